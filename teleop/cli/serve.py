"""``teleop serve``: the websocket server and browser UI for one robot."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import robots
from robots.base import Robot, RobotError
from teleop import __version__
from teleop.cli.client_options import TOKEN_ENV  # the one variable both sides read
from teleop.defaults import MAX_RATE_HZ
from teleop.errors import TeleopError

if TYPE_CHECKING:
    from teleop.station.recording_link import Accounting, RecordingLink

# The server, recorder and kinematics (pybullet, PyAV, pyarrow) load only when serving,
# so that ``teleop --help`` and argument errors stay quick and quiet.


ADMIN_TOKEN_ENV = "TELEOP_ADMIN_TOKEN"
GIL_SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval while serving, in [s] (Python's is 5 ms)."""


def add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the websocket endpoint and the browser UI for one robot",
        description="Drive one robot from websocket clients and the browser UI "
        "(http://HOST:PORT/). The default robot is the PyBullet sim arm.",
    )
    p.add_argument(
        "--robot", default="sim", help=f"robot: {', '.join(robots.robot_names())} (default sim)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8765, help="TCP port, 0 for any free one (default 8765)"
    )
    p.add_argument(
        "--rate",
        type=float,
        default=100.0,
        metavar="HZ",
        help=f"control loop rate, 1 to {MAX_RATE_HZ:.0f} Hz (default 100)",
    )
    p.add_argument(
        "--state-rate",
        type=float,
        default=30.0,
        metavar="HZ",
        help="state messages per second to each client (default 30)",
    )
    p.add_argument(
        "--frame-rate",
        type=float,
        default=15.0,
        metavar="FPS",
        help="camera frames per second to each client (default 15)",
    )
    p.add_argument(
        "--record-dir",
        type=Path,
        default=Path("recordings"),
        help="where datasets are written (default recordings)",
    )
    p.add_argument("--dataset", help="dataset name under --record-dir (default: the robot's name)")
    p.add_argument("--fps", type=int, default=30, help="dataset frame rate (default 30)")
    p.add_argument(
        "--codec",
        default="auto",
        choices=["auto", "libsvtav1", "libx264"],
        help="video codec for recordings (default auto)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"token clients must present (or set ${TOKEN_ENV}); without it the "
        "server listens on localhost only",
    )
    p.add_argument(
        "--admin-token",
        default=os.environ.get(ADMIN_TOKEN_ENV),
        help=f"token whose holder may take the lease over (or ${ADMIN_TOKEN_ENV})",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another browser Origin to accept, e.g. https://ops.example (repeatable)",
    )
    p.add_argument(
        "--ledger",
        metavar="URL",
        help="contribution ledger: postgresql://... (default: SQLite in --record-dir)",
    )
    p.add_argument("--serial-port", help="serial device of a serial arm (--robot so101)")
    p.add_argument("--calibration", type=Path, help="calibration file of a serial arm")
    p.add_argument("--gui", action="store_true", help="open the PyBullet window (sim only)")
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        sys.stderr.write(f"teleop serve: error: {problem}\n")
        return 2
    try:
        robot = robots.make_robot(args.robot, **_robot_options(args))
        robot.connect()
        _wait_for_cameras(robot)
    except (RobotError, TypeError) as exc:
        sys.stderr.write(f"teleop serve: error: cannot start robot '{args.robot}': {exc}\n")
        return 1
    try:
        return asyncio.run(_serve(robot, args))
    except TeleopError as exc:
        sys.stderr.write(f"teleop serve: error: {exc}\n")
        return 1
    finally:
        robot.disconnect()


def _wait_for_cameras(robot: Robot, timeout_s: float = 60.0) -> None:
    """Serve once every camera has delivered a frame (the sim's renderer takes a moment)."""
    for camera in robot.cameras.values():
        camera.wait_newer(-1, timeout_s=timeout_s)
    renderer = getattr(robot, "renderer", None)  # the sim logs its renderer choice
    if renderer is not None:
        print(f"cameras: {', '.join(robot.cameras)} rendered with {renderer}", flush=True)


def _check(args: argparse.Namespace) -> str | None:
    if args.robot not in robots.robot_names():
        return f"unknown robot {args.robot!r}; known: {', '.join(robots.robot_names())}"
    if not 1 <= args.rate <= MAX_RATE_HZ:
        return f"--rate {args.rate} outside [1, {MAX_RATE_HZ:.0f}] Hz"
    if not (0 <= args.port <= 65535):
        return f"--port {args.port} outside [0, 65535]"
    if args.state_rate <= 0 or args.frame_rate <= 0 or args.fps <= 0:
        return "--state-rate, --frame-rate and --fps must be > 0"
    if args.token is None and not _is_loopback(args.host):
        return (
            f"refusing to listen on {args.host} without --token; "
            "set --token (or $TELEOP_TOKEN), or listen on 127.0.0.1"
        )
    if args.dataset is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", args.dataset):
        return f"--dataset {args.dataset!r}: use letters, digits, '_', '-' and '.' only"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _robot_options(args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {}
    if args.serial_port:
        options["serial_port"] = args.serial_port
    if args.calibration:
        options["calibration"] = args.calibration
    if args.gui:
        options["gui"] = True
    return options


def _recorder(robot: Robot, args: argparse.Namespace) -> RecordingLink:
    from teleop.recorder import Recorder, RecorderConfig, RecorderError
    from teleop.station.recording_link import RecordingLink

    dataset = args.dataset or re.sub(r"[^A-Za-z0-9_.-]", "_", args.robot)
    config = RecorderConfig(
        root=args.record_dir / dataset,
        fps=args.fps,
        control_hz=args.rate,
        codec=args.codec,
        robot_type=robot.spec.name,
        station_id=socket.gethostname(),
        software_version=__version__,
    )
    try:
        recorder = Recorder(config, robot.spec, robot.cameras)
    except RecorderError as exc:
        print(f"warning: recording disabled: {exc}", file=sys.stderr, flush=True)
        return RecordingLink(None, str(exc))
    return RecordingLink(recorder, accounting=_accounting(robot, args))


def _accounting(robot: Robot, args: argparse.Namespace) -> Accounting | None:
    """The station key and the ledger; without them episodes are saved unsigned."""
    from teleop.ledger import Ledger
    from teleop.quality.signing import StationKey
    from teleop.station.recording_link import Accounting

    try:
        key = StationKey.load_or_create()
    except TeleopError as exc:
        print(f"warning: episodes will not be signed: {exc}", file=sys.stderr, flush=True)
        return None
    try:
        ledger: Ledger | None = Ledger.open(args.ledger, record_dir=args.record_dir)
    except TeleopError as exc:
        print(f"warning: no contribution ledger: {exc}", file=sys.stderr, flush=True)
        ledger = None
    return Accounting(key, ledger, robot.spec)


async def _serve(robot: Robot, args: argparse.Namespace) -> int:
    from teleop.control import ControlConfig
    from teleop.server import GateConfig, ServerConfig, TeleopServer

    config = ServerConfig(
        host=args.host,
        port=args.port,
        control=ControlConfig(rate_hz=args.rate),
        gate=GateConfig(args.token, args.admin_token, tuple(args.allow_origin)),
        state_rate_hz=args.state_rate,
        frame_rate_hz=args.frame_rate,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = TeleopServer(robot, config, _recorder(robot, args))
    with serving_process():
        async with server:
            host = f"[{args.host}]" if ":" in args.host else args.host
            print(f"serving on http://{host}:{server.port}/", flush=True)
            if args.token is None:
                print("no --token: accepting clients on this machine only", flush=True)
            await stop.wait()
            print("shutting down", flush=True)
    return 0


@contextlib.contextmanager
def serving_process() -> Iterator[None]:
    """Set up this whole process for serving one robot; undone on exit.

    These settings belong to the program, not to ``TeleopServer``, which tests and other
    programs construct in processes of their own:

    - tokens are blanked in the websockets library's logs (its debug log prints
      request lines and headers);
    - the control thread shares the GIL with the network thread; a short switch
      interval bounds how long it can wait behind Python work there;
    - a full garbage collection walks every object while holding the GIL, and so stalls
      the control loop. What exists by now (the robot, the server) lives as long as
      the process serves: it is taken out of the collector's sight.
    """
    from teleop.server.http import redact_tokens_in_logs

    redact_tokens_in_logs()
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    gc.freeze()
    try:
        yield
    finally:
        sys.setswitchinterval(switch_interval)
        gc.unfreeze()
