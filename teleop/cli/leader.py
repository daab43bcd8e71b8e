"""``teleop leader``: mirror a leader arm onto a teleop server's follower arm."""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path
from typing import TextIO

from robots.base import RobotError
from robots.serial.calibration import Calibration, default_calibration_path
from robots.serial.registers import BAUD_CODES
from robots.serial.so101 import JOINT_NAMES
from teleop.cli.client_options import (
    add_server_options,
    check_server_options,
    refusal,
    run_until_stopped,
)
from teleop.client import ClientError
from teleop.clients.leader.app import LeaderApp
from teleop.clients.leader.config import LeaderConfig
from teleop.clients.leader.errors import LeaderError
from teleop.clients.leader.feedback import FeedbackConfig
from teleop.clients.leader.status import Status, format_status
from teleop.clients.status_line import StatusLine

DEFAULT_CALIBRATION = default_calibration_path("so101_leader")

EPILOG = """\
The leader arm's torque is off: move it by hand. It engages only when it is within
0.8 rad of the follower on every joint; otherwise the status line names the joint that
is off and by how much. It then eases in (at most 0.05 rad per tick) and follows.
After an e-stop, a watchdog stop, a leader bus fault or a reconnect it compares again.

The follower's own calibration stays on the server (teleop serve --calibration): the
leader's joint angles are the follower's targets, so this client needs only the
leader's calibration (write it with: teleop calibrate --serial-port DEV --out FILE).

While it runs, type 'reset' and Enter to release the station's e-stop (this client
holds the lease, so only it may).

--feedback: while the follower grasps, the leader's gripper servo (only that one) gets
a light torque toward open, in proportion to the grasp force, capped at 15 % of its
stall torque; it only resists closing and never pulls the hand closed.
"""


def add_leader_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "leader",
        help="mirror a leader arm (torque off) onto a server's follower arm",
        description="Read a leader arm (SO-101-class, Feetech STS servos) and stream its "
        "joint positions to a teleop server as joints commands.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--serial-port",
        required=True,
        metavar="DEV",
        help="the leader arm's serial device, e.g. /dev/ttyACM1",
    )
    add_server_options(p, "leader")
    p.add_argument(
        "--calibration",
        type=Path,
        default=DEFAULT_CALIBRATION,
        metavar="FILE",
        help=f"the leader arm's calibration (default {DEFAULT_CALIBRATION})",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=100.0,
        metavar="HZ",
        help="leader reads and commands per second, 10 to 500 (default 100)",
    )
    p.add_argument("--baud", type=int, default=1_000_000, help="leader bus speed in bit/s")
    p.add_argument(
        "--feedback",
        action="store_true",
        help="push back on the leader's gripper while the follower grasps",
    )
    p.set_defaults(run=run_leader)


def run_leader(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        sys.stderr.write(f"teleop leader: error: {problem}\n")
        return 2
    try:
        config = LeaderConfig(
            url=args.url,
            serial_port=args.serial_port,
            token=args.token,
            name=args.name,
            calibration=Calibration.load(args.calibration, JOINT_NAMES),
            rate_hz=args.rate,
            baudrate=args.baud,
            feedback=FeedbackConfig() if args.feedback else None,
        )
        return asyncio.run(_run(config))
    except ClientError as exc:
        sys.stderr.write(f"teleop leader: error: {refusal(exc, args.url)}\n")
    except (LeaderError, RobotError) as exc:
        sys.stderr.write(f"teleop leader: error: {exc}\n")
    return 1


def _check(args: argparse.Namespace) -> str | None:
    if problem := check_server_options(args):
        return problem
    if not 10.0 <= args.rate <= 500.0:
        return f"--rate {args.rate} outside [10, 500] Hz"
    if args.baud not in BAUD_CODES:
        return f"--baud {args.baud} is not an STS baud rate; use one of {list(BAUD_CODES)}"
    return None


async def _run(config: LeaderConfig) -> int:
    printer = StatusPrinter(sys.stdout)
    app = LeaderApp(config, on_status=printer)
    _read_commands(asyncio.get_running_loop(), app, printer)
    await run_until_stopped(app.run(), printer)
    return 0


def _read_commands(loop: asyncio.AbstractEventLoop, app: LeaderApp, printer: StatusPrinter) -> None:
    """Read 'reset' lines from stdin in a daemon thread (it must not hold up exit)."""

    async def reset() -> None:
        try:
            await app.reset_estop()
            printer.say("e-stop reset: the leader compares with the follower again")
        except ClientError as exc:
            printer.say(f"e-stop reset refused: {exc.message}")

    def reader() -> None:
        for line in sys.stdin:
            if line.strip().lower() in ("reset", "r"):
                asyncio.run_coroutine_threadsafe(reset(), loop)
            elif line.strip():
                loop.call_soon_threadsafe(printer.say, "commands: 'reset' (e-stop reset)")

    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=reader, name="leader-stdin", daemon=True).start()


class StatusPrinter(StatusLine[Status]):
    """The leader's status line; in a log file, a line when the phase, the link, the
    fault, the e-stop or the note changes, not for every new load reading."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream, format_status, _change_key)


def _change_key(status: Status) -> tuple[object, ...]:
    return (
        status.link,
        status.phase,
        status.mismatch.split(" ")[0],
        status.leader_fault,
        status.estop,
        status.lease,
        status.note,
    )
