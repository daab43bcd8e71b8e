"""``teleop serve`` as a user runs it: what the process does beyond the library server."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
import websockets

from teleop.client import ClientError, TeleopClient

TELEOP = [sys.executable, "-m", "teleop.cli"]


def test_tokens_never_appear_in_logs(tmp_path: Path) -> None:
    """The websockets library logs request lines and headers at debug level; ``teleop
    serve -v`` blanks the tokens in them."""
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*TELEOP, "-v", "serve", "--robot", "fake", "--port", "0",
             "--token", "op-s3cret-7", "--admin-token", "adm-s3cret-9",
             "--record-dir", str(tmp_path / "rec")],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
        try:
            url = _url(proc)

            async def scenario() -> None:
                async with TeleopClient(url, token="op-s3cret-7", name="op") as op:
                    await op.request_lease()
                async with websockets.connect(url + "/ws?token=adm-s3cret-9"):
                    pass
                for wrong in ("guess-s3cret-1", "op-s3cret-7x"):
                    with pytest.raises(ClientError):
                        await TeleopClient(url, token=wrong).connect()

            asyncio.run(scenario())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert "GET" in text  # the debug log was captured
    for secret in ("op-s3cret-7", "adm-s3cret-9", "guess-s3cret-1"):
        assert secret not in text


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if match := re.search(r"serving on http://(\S+?)/?$", line.strip()):
            return f"ws://{match.group(1)}"
    raise AssertionError("teleop serve exited before serving")
