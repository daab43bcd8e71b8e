"""``teleop leader``'s arguments, errors and status line (the running CLI is tested end to
end in test_leader_e2e.py)."""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import pytest
from leaderkit import LEADER

from teleop.cli.leader import StatusPrinter, add_leader_parser, run_leader
from teleop.clients.leader.app import LeaderApp
from teleop.clients.leader.config import LeaderConfig
from teleop.clients.leader.engage import Phase
from teleop.clients.leader.status import Link, Status, format_status


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="teleop")
    add_leader_parser(parser.add_subparsers())
    return parser.parse_args(["leader", *argv])


def test_the_parser_takes_the_documented_options() -> None:
    args = parse("--serial-port", "/dev/ttyACM1", "--url", "ws://h:1", "--token", "t",
                 "--calibration", "l.json", "--rate", "200", "--feedback")  # fmt: skip
    assert (args.serial_port, args.url, args.token) == ("/dev/ttyACM1", "ws://h:1", "t")
    assert (args.calibration, args.rate, args.feedback) == (Path("l.json"), 200.0, True)
    defaults = parse("--serial-port", "x", "--url", "ws://h:1")
    assert defaults.rate == 100.0 and not defaults.feedback
    assert defaults.calibration.name == "so101_leader.json"


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--url", "http://h:1"), "expected ws://HOST:PORT"),
        (("--rate", "5"), "--rate 5.0 outside [10, 500] Hz"),
        (("--baud", "9600"), "not an STS baud rate"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--serial-port": "x", "--url": "ws://h:1"}
    pairs = dict(zip(argv[::2], argv[1::2], strict=True))
    args = parse(*[v for kv in {**base, **pairs}.items() for v in kv])
    assert run_leader(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_missing_calibration_names_the_command_that_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("--serial-port", "x", "--url", "ws://h:1", "--calibration",
                 str(tmp_path / "none.json"))  # fmt: skip
    assert run_leader(args) == 1
    assert "teleop calibrate" in capsys.readouterr().err


def test_a_missing_port_with_nobody_serving_is_retried_not_fatal(tmp_path: Path) -> None:
    """Neither a missing leader port nor an absent server ends the client: both are
    shown and retried (the run is cut short here by a timeout)."""
    seen: list[Status] = []
    config = LeaderConfig(
        url="ws://127.0.0.1:9",
        serial_port=str(tmp_path / "no-tty"),
        calibration=LEADER,
        backoff_initial_s=0.05,
        backoff_max_s=0.1,
    )

    async def scenario() -> None:
        app = LeaderApp(config, on_status=seen.append)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(app.run(), 1.5)
        assert app.leader_fault is not None and "cannot open serial port" in app.leader_fault

    asyncio.run(scenario())
    assert any(s.link is Link.RETRYING for s in seen)
    assert "LEADER BUS FAULT" in format_status(seen[-1])


def test_the_status_line_is_compact_and_says_what_to_do() -> None:
    following = Status(Link.CONNECTED, Phase.FOLLOWING, lease=True, rate_hz=99.6,
                       load_nm=(0.0, 0.42, -0.3, 0.0, 0.0), grasp_n=3.2)  # fmt: skip
    assert format_status(following) == (
        "connected | FOLLOWING | 100 Hz | load +0.0 +0.4 -0.3 +0.0 +0.0 N·m | grasp  3.2 N"
    )
    refused = Status(Link.CONNECTED, Phase.MISMATCH, mismatch="elbow_flex is 1.20 rad off",
                     lease=True, estop=True)  # fmt: skip
    line = format_status(refused)
    assert "NOT ENGAGED: elbow_flex is 1.20 rad off" in line and "type 'reset'" in line
    retrying = Status(Link.RETRYING, retry_in_s=1.26, note="connection closed")
    assert format_status(retrying) == "disconnected, retrying in 1.3 s | connection closed"


def test_off_a_terminal_a_line_is_printed_per_change_not_per_reading() -> None:
    out = io.StringIO()
    printer = StatusPrinter(out)
    base = Status(Link.CONNECTED, Phase.FOLLOWING, lease=True)
    printer(base)
    printer(Status(Link.CONNECTED, Phase.FOLLOWING, lease=True, grasp_n=4.0))
    printer(Status(Link.CONNECTED, Phase.MISMATCH, mismatch="wrist_flex is 1.00 rad off"))
    printer(Status(Link.CONNECTED, Phase.MISMATCH, mismatch="wrist_flex is 0.99 rad off"))
    assert len(out.getvalue().splitlines()) == 2
