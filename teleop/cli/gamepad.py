"""``teleop gamepad``: drive a robot from a locally attached gamepad.

pygame is imported only when the command runs, so ``teleop --help`` stays fast and
works where SDL is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import socket
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from teleop.client import ClientError
from teleop.clients.gamepad.app import GamepadApp
from teleop.clients.gamepad.config import AppConfig
from teleop.clients.gamepad.errors import GamepadError, MappingError
from teleop.clients.gamepad.layouts import LAYOUTS, PLAYSTATION, XBOX
from teleop.clients.gamepad.mapfile import Overrides, load_overrides
from teleop.clients.gamepad.mapping import BUTTON_ROLES, Feel
from teleop.clients.gamepad.status import Status, format_status
from teleop.clients.status_line import StatusLine, logs_clear_status
from teleop.errors import ConfigError

TOKEN_ENV = "TELEOP_TOKEN"
MAX_TASK_CHARS = 1000
MAX_NAME_CHARS = 64

_ROLE_TEXT = {
    "deadman": "hold: the arm moves only while held",
    "x": "x velocity: forward / back",
    "y": "y velocity: left / right",
    "z": "z velocity: up / down",
    "yaw": "yaw rate: turn left / right",
    "slow": "hold: fine motion (feel.slow_scale)",
    "gripper": "gripper: press to close",
    "record_start": "record start (with --task)",
    "record_stop": "record stop, success",
    "record_fail": "record stop, failure",
    "record_discard": "record discard",
    "estop": "e-stop (latches the station)",
    "reset": "e-stop reset, with the deadman held",
}


def bindings_epilog() -> str:
    """The default bindings and feel, for ``--help``."""
    feel = Feel()
    rows = [f"  {'Xbox':<24}{'PlayStation':<24}action"]
    for role, text in _ROLE_TEXT.items():
        xbox, ps = XBOX.labels[role], PLAYSTATION.labels[role]
        if role == "reset":
            xbox, ps = f"LB + {xbox}", f"L1 + {ps}"
        rows.append(f"  {xbox:<24}{ps:<24}{text}")
    notes = (
        f"Full stick is {feel.max_linear_mps} m/s and {feel.max_yaw_radps} rad/s (base "
        f"frame), after a radial deadzone of {feel.deadzone:.0%} and an expo curve. "
        "Releasing the deadman sends one stop command; a lost pad or connection sends "
        "nothing (the server's watchdog holds the arm), and the deadman must be released "
        "and pressed again before the arm moves. The pad rumbles with the contact force. "
        "--mapping FILE (TOML) overrides any of it: [axes] (x, y, z, yaw, gripper), "
        f"[buttons] ({', '.join(BUTTON_ROLES)}), [feel] "
        f"({', '.join(f.name for f in dataclasses.fields(Feel))}) and [rumble] "
        "(force_min_n, force_full_n, max_strength); the file format is documented in "
        "teleop/clients/gamepad/mapfile.py."
    )
    return "default bindings:\n" + "\n".join(rows) + "\n\n" + textwrap.fill(notes, 88)


def add_gamepad_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gamepad",
        help="drive a robot with a locally attached gamepad",
        description="Drive a teleop server's arm with a gamepad on this machine (pygame/SDL).\n"
        "Xbox and PlayStation pads are recognised; --mapping overrides the bindings.",
        epilog=bindings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--url", required=True, help="the server, e.g. ws://127.0.0.1:8765")
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"the server's --token (or set ${TOKEN_ENV})",
    )
    p.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="TOML file overriding bindings, deadzones, speeds and rumble",
    )
    p.add_argument(
        "--layout",
        choices=["auto", *LAYOUTS],
        help="use this built-in layout instead of detecting it from the pad",
    )
    p.add_argument("--task", default="", help="task text recorded with each episode")
    p.add_argument(
        "--name",
        default=f"gamepad@{socket.gethostname()}"[:MAX_NAME_CHARS],
        help="this client's name, shown to others and written into recordings",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=50.0,
        metavar="HZ",
        help="commands per second while the deadman is held, 10 to 100 (default 50)",
    )
    p.set_defaults(run=run_gamepad)


def run_gamepad(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        sys.stderr.write(f"teleop gamepad: error: {problem}\n")
        return 2
    try:
        overrides = _overrides(args)
        config = _config(args, overrides)
    except (MappingError, ConfigError) as exc:
        sys.stderr.write(f"teleop gamepad: error: {exc}\n")
        return 2
    try:
        return asyncio.run(_run(config))
    except ClientError as exc:
        sys.stderr.write(f"teleop gamepad: error: {_refusal(exc, args.url)}\n")
        return 1
    except GamepadError as exc:
        sys.stderr.write(f"teleop gamepad: error: {exc}\n")
        return 1


def _check(args: argparse.Namespace) -> str | None:
    if not args.url.startswith(("ws://", "wss://")):
        return f"--url {args.url!r}: expected ws://HOST:PORT or wss://HOST:PORT"
    if not 10.0 <= args.rate <= 100.0:
        return f"--rate {args.rate} outside [10, 100] Hz"
    if len(args.task) > MAX_TASK_CHARS:
        return f"--task has {len(args.task)} characters; at most {MAX_TASK_CHARS}"
    if not 0 < len(args.name) <= MAX_NAME_CHARS:
        return f"--name must have 1 to {MAX_NAME_CHARS} characters"
    return None


def _overrides(args: argparse.Namespace) -> Overrides:
    overrides = load_overrides(args.mapping) if args.mapping else Overrides()
    if args.layout is not None:
        layout = None if args.layout == "auto" else args.layout
        overrides = dataclasses.replace(overrides, layout=layout)
    return overrides


def _config(args: argparse.Namespace, overrides: Overrides) -> AppConfig:
    return AppConfig(
        url=args.url,
        token=args.token,
        name=args.name,
        task=args.task,
        overrides=overrides,
        send_hz=args.rate,
    )


def _refusal(exc: ClientError, url: str) -> str:
    if exc.code == "unauthorized":
        return (
            f"{url} refused the token (HTTP 401): pass the server's token with --token "
            f"or ${TOKEN_ENV}"
        )
    if exc.code == "forbidden":
        return f"{url} refused this client (HTTP 403): {exc.message}"
    return str(exc)


async def _run(config: AppConfig) -> int:
    from teleop.clients.gamepad.device import Pad  # loads pygame

    printer = StatusPrinter(sys.stdout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with Pad() as pad, logs_clear_status(printer):
        app = asyncio.create_task(GamepadApp(config, pad, on_status=printer).run())
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({app, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (app, stopper):
                task.cancel()
            await asyncio.gather(app, stopper, return_exceptions=True)
            printer.finish()
        if not app.cancelled() and app.exception() is not None:
            raise app.exception()  # type: ignore[misc]
    return 0


class StatusPrinter(StatusLine[Status]):
    """The gamepad's status line; in a log file, changes of state, not every force or
    timer tick."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream, format_status, _change_key)


def _change_key(status: Status) -> Status:
    return dataclasses.replace(
        status, force_n=float(round(status.force_n)), elapsed_s=0.0, retry_in_s=None
    )
