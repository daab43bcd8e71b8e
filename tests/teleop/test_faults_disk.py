"""Disk full in the middle of an episode, through the server (issue 8, row 8).

Pass criterion: recording stops with an error to the operator; teleoperation goes on;
the dataset still loads, earlier episodes included.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from diskkit import fill, small_disk

from teleop.client import ClientError, TeleopClient


def test_8_disk_full_stops_recording_with_an_error_and_teleop_goes_on(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", size_mib=64) as disk:
        _serve_and_fill(tmp_path, disk)


def _serve_and_fill(tmp_path: Path, disk: Path) -> None:
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "teleop.cli", "serve", "--robot", "fake", "--port", "0",
         "--record-dir", str(disk), "--dataset", "ds"],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = next(
            f"ws://{m.group(1)}"
            for line in server.stdout
            if (m := re.search(r"serving on http://(\S+?)/?$", line.strip()))
        )
        try:
            asyncio.run(asyncio.wait_for(_scenario(url, disk), 120))
        except AssertionError:
            print((tmp_path / "serve.log").read_text()[-4000:])  # the server's side of it
            raise
        assert server.poll() is None, "the server died"
    finally:
        server.terminate()
        server.wait(timeout=20)


async def _drive(op: TeleopClient, home: np.ndarray, seconds: float) -> None:
    t0 = time.monotonic()
    while (t := time.monotonic() - t0) < seconds:
        q = home.copy()
        q[0] += 0.3 * np.sin(2 * t)
        await op.send_joints(q)
        await asyncio.sleep(0.01)


async def _scenario(url: str, disk: Path) -> None:
    async with TeleopClient(url, name="op", timeout_s=10) as op:
        await op.request_lease()
        home = np.array((await op.wait_state(lambda s: True)).q)
        await op.record_start("before the disk fills")
        await _drive(op, home, 1.0)
        await op.record_stop(True)

        await op.record_start("while the disk fills")
        await _drive(op, home, 0.5)
        fill(disk / "filler")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 40:
            await _drive(op, home, 0.2)
            status = op.record_status
            if status is not None and status.reason.startswith("failed"):
                break
        assert op.record_status is not None and op.record_status.reason.startswith("failed")
        assert any(e.code == "record_failed" for e in op.errors)

        # Teleoperation goes on: the arm still follows.
        target = home.copy()
        target[0] += 0.4
        for _ in range(100):
            await op.send_joints(target)
            await asyncio.sleep(0.01)
        state = await op.wait_state(lambda s: abs(s.q[0] - target[0]) < 0.05, timeout_s=5)
        assert not state.recording.active
        with pytest.raises(ClientError):  # still full: a new episode is refused, clearly
            await op.record_start("no room")
            await op.record_stop(True)

    (disk / "filler").unlink()
    info = json.loads((disk / "ds" / "meta" / "info.json").read_text())
    assert info["total_episodes"] >= 1
    rows = sum(pq.read_table(p).num_rows for p in sorted((disk / "ds" / "data").rglob("*.parquet")))
    assert rows == info["total_frames"]
