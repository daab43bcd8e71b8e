"""``teleop gamepad`` on the command line: help, bad arguments, a refused token, a run."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from serverkit import serving
from timing import MS

from teleop.cli import _Parser
from teleop.cli.gamepad import StatusPrinter, add_gamepad_parser
from teleop.clients.gamepad.gate import Drive
from teleop.clients.gamepad.status import Link, Status


def parse(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="teleop")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    add_gamepad_parser(sub)
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    return int(args.run(args))


@contextmanager
def server_thread(**config: Any) -> Iterator[dict[str, Any]]:
    """A loopback server on its own thread and loop, so the CLI can own the main one."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with serving(**config) as (server, url):
            box["url"], box["server"] = url, server
            box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10.0), "the server did not start"
    try:
        yield box
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10.0)


def test_help_lists_the_default_bindings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse(["gamepad", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--url", "--token", "--mapping", "LB", "L1", "deadman", "RT", "R2", "e-stop"):
        assert text in out, text


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["gamepad"], "the following arguments are required: --url"),
        (["gamepad", "--url", "ws://h:1", "--layout", "nes"], "invalid choice: 'nes'"),
        (["gamepad", "--url", "ws://h:1", "--rate", "fast"], "invalid float value"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--url", "http://127.0.0.1:8765"], "expected ws://HOST:PORT"),
        (["--url", "ws://h:1", "--rate", "500"], "--rate 500.0 outside [10, 100] Hz"),
        (["--url", "ws://h:1", "--task", "x" * 1001], "--task has 1001 characters"),
        (["--url", "ws://h:1", "--name", ""], "--name must have 1 to 64 characters"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    extra: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["gamepad", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("teleop gamepad: error: ") and expected in err
    assert err.count("\n") == 1


def test_bad_mapping_file_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "pad.toml"
    mapping.write_text("[feel]\ndeadzone = 2\n", encoding="utf-8")
    assert run(["gamepad", "--url", "ws://h:1", "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert f"{mapping}: [feel].deadzone: 2.0 outside [0.0, 0.9]" in err
    assert run(["gamepad", "--url", "ws://h:1", "--mapping", str(tmp_path / "no.toml")]) == 2
    assert "cannot read the mapping file" in capsys.readouterr().err


def test_wrong_token_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with server_thread(token="right") as box:
        url = box["url"]
        assert run(["gamepad", "--url", url, "--token", "wrong"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"teleop gamepad: error: {url} refused the token (HTTP 401): pass the server's "
        "token with --token or $TELEOP_TOKEN\n"
    )


def test_runs_until_interrupted(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt_once_connected(box: dict[str, Any]) -> None:
        deadline = time.monotonic() + 20_000 * MS
        while box["server"].session.holder is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(300 * MS)  # a few status lines
        os.kill(os.getpid(), signal.SIGINT)

    with server_thread() as box:
        threading.Thread(target=interrupt_once_connected, args=(box,), daemon=True).start()
        assert run(["gamepad", "--url", box["url"], "--task", "wave"]) == 0
    out = capsys.readouterr().out
    assert "connected | pad: none (plug one in) | lease: yes" in out


def test_status_printer_rewrites_a_terminal_line_and_logs_changes_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    base = Status(Link.CONNECTED, pad="p", layout="xbox", lease=True, drive=Drive.IDLE)
    terminal = Terminal()
    printer = StatusPrinter(terminal)
    printer(base)
    printer(Status(Link.RETRYING, retry_in_s=1.0))
    printer.finish()
    text = terminal.getvalue()
    assert text.startswith("\rconnected | pad: p [xbox]") and text.endswith("\n")
    assert text.count("\r") == 2
    terminal = Terminal()
    printer = StatusPrinter(terminal)
    printer(base)
    width = len(terminal.getvalue()) - 1
    printer.clear()  # before a log line: the status line is blanked out
    assert terminal.getvalue().endswith("\r" + " " * width + "\r")

    log = io.StringIO()
    printer = StatusPrinter(log)
    printer(base)
    printer(dataclasses.replace(base, force_n=0.2))
    printer(dataclasses.replace(base, force_n=3.0))
    assert log.getvalue().count("\n") == 2  # the 0.2 N change is noise
