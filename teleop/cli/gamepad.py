"""``teleop gamepad``: drive a robot from a locally attached gamepad.

pygame is imported only when the command runs, so ``teleop --help`` stays fast and
works where SDL is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from teleop.cli.client_options import (
    add_server_options,
    check_server_options,
    refusal,
    run_until_stopped,
)
from teleop.client import ClientError
from teleop.clients.gamepad.app import GamepadApp
from teleop.clients.gamepad.config import AppConfig
from teleop.clients.gamepad.errors import GamepadError, MappingError
from teleop.clients.gamepad.layouts import LAYOUTS, PLAYSTATION, XBOX
from teleop.clients.gamepad.mapfile import Overrides, load_overrides
from teleop.clients.gamepad.mapping import BUTTON_ROLES, Feel
from teleop.clients.gamepad.status import Status, format_status
from teleop.clients.status_line import StatusLine
from teleop.errors import ConfigError

MAX_TASK_CHARS = 1000

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
    add_server_options(p, "gamepad")
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
        sys.stderr.write(f"teleop gamepad: error: {refusal(exc, args.url)}\n")
        return 1
    except GamepadError as exc:
        sys.stderr.write(f"teleop gamepad: error: {exc}\n")
        return 1


def _check(args: argparse.Namespace) -> str | None:
    if problem := check_server_options(args):
        return problem
    if not 10.0 <= args.rate <= 100.0:
        return f"--rate {args.rate} outside [10, 100] Hz"
    if len(args.task) > MAX_TASK_CHARS:
        return f"--task has {len(args.task)} characters; at most {MAX_TASK_CHARS}"
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


async def _run(config: AppConfig) -> int:
    from teleop.clients.gamepad.device import Pad  # loads pygame

    printer = StatusPrinter(sys.stdout)
    with Pad() as pad:
        await run_until_stopped(GamepadApp(config, pad, on_status=printer).run(), printer)
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
