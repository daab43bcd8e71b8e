"""``teleop emulate-bus`` (a virtual servo bus) and ``teleop calibrate`` (the arm's
calibration, step by step). All the prompting lives here, never in the driver."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

from robots.base import RobotError
from robots.serial import calibrate as steps
from robots.serial.bus import FeetechBus
from robots.serial.calibration import Calibration, default_calibration_path
from robots.serial.emulator import BusEmulator, FaultConfig
from robots.serial.registers import BAUD_CODES
from robots.serial.servo_model import ServoPhysics
from robots.serial.so101 import JOINT_NAMES

Prompt = Callable[[str], str]
Say = Callable[[str], None]


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in [0, 1]")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"{text} must be a time >= 0")
    return value


def _servo_count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 253:
        raise argparse.ArgumentTypeError(f"{text} servos: use 1..253")
    return value


def _baud(text: str) -> int:
    value = int(text)
    if value not in BAUD_CODES:
        raise argparse.ArgumentTypeError(
            f"{text} is not an STS baud rate; use one of {', '.join(map(str, BAUD_CODES))}"
        )
    return value


def add_emulate_bus_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "emulate-bus",
        help="serve a virtual Feetech servo bus on a pseudo-terminal",
        description="Serve emulated STS3215 servos (ids 1..N) on a pseudo-terminal. Prints the "
        "device path (first line of stdout), then serves until SIGINT or SIGTERM. SIGUSR1 "
        "pulls the cable, or plugs it back in.",
    )
    parser.add_argument("--servos", type=_servo_count, default=6, help="servo count (default 6)")
    parser.add_argument(
        "--baud",
        type=_baud,
        default=1_000_000,
        help="emulated bus speed in bit/s (default 1000000)",
    )
    parser.add_argument(
        "--drop",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a reply is dropped",
    )
    parser.add_argument(
        "--corrupt",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a reply has a bad checksum",
    )
    parser.add_argument(
        "--delay-ms",
        type=_seconds,
        default=0.0,
        metavar="MS",
        help="extra delay before every reply, in ms",
    )
    parser.add_argument(
        "--pull-after", type=_seconds, metavar="S", help="pull the cable S seconds after start"
    )
    parser.add_argument(
        "--return-after",
        type=_seconds,
        metavar="S",
        help="plug it back S seconds after it was pulled (implies a --link)",
    )
    parser.add_argument(
        "--link",
        type=Path,
        metavar="PATH",
        help="keep a symlink here that follows the terminal across cable pulls; "
        "it is printed instead of /dev/pts/N",
    )
    parser.add_argument(
        "--obstacle",
        type=int,
        metavar="TICK",
        help="an object the last servo (the gripper) closes on, at TICK",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault draws")
    parser.set_defaults(run=run_emulate_bus)


def run_emulate_bus(args: argparse.Namespace) -> int:
    faults = FaultConfig(
        args.drop, args.corrupt, args.delay_ms / 1000.0, args.pull_after, args.return_after
    )
    physics = {} if args.obstacle is None else {args.servos: ServoPhysics(obstacle=args.obstacle)}
    with _link_path(args.link, args.return_after is not None) as link:
        emu = BusEmulator(
            args.servos,
            baudrate=args.baud,
            faults=faults,
            link=link,
            physics=physics,
            seed=args.seed,
        )
        stop = threading.Event()
        with emu, _signals(stop, emu):
            print(emu.path, flush=True)
            while not stop.wait(0.5):
                pass
    return 0


@contextlib.contextmanager
def _link_path(link: Path | None, needed: bool) -> Iterator[Path | None]:
    """The link to keep: the one asked for, or a temporary one if reconnecting needs it."""
    if link is not None or not needed:
        yield link
        return
    with tempfile.TemporaryDirectory(prefix="teleop-bus-") as tmp:
        yield Path(tmp) / "tty"


@contextlib.contextmanager
def _signals(stop: threading.Event, emu: BusEmulator) -> Iterator[None]:
    def on_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_toggle(signum: int, frame: FrameType | None) -> None:
        emu.toggle_cable()

    wanted = {signal.SIGINT: on_stop, signal.SIGTERM: on_stop, signal.SIGUSR1: on_toggle}
    previous = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def add_calibrate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "calibrate",
        help="calibrate an SO-101 arm on a serial port, step by step",
        description="Walk through calibrating an SO-101 arm (servo ids 1-6, gripper last): "
        "torque off, the middle pose, then each joint's full range. Writes a JSON file.",
    )
    parser.add_argument(
        "--serial-port",
        required=True,
        metavar="DEV",
        help="the arm's serial device, e.g. /dev/ttyACM0",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=default_calibration_path(),
        metavar="FILE",
        help=f"calibration file to write (default {default_calibration_path()})",
    )
    parser.add_argument("--baud", type=_baud, default=1_000_000, help="bus speed in bit/s")
    parser.add_argument(
        "--invert",
        action="append",
        default=[],
        choices=JOINT_NAMES[:-1],
        metavar="JOINT",
        help="a joint whose angle falls as its ticks rise (repeatable)",
    )
    parser.set_defaults(run=run_calibrate)


def run_calibrate(args: argparse.Namespace, prompt: Prompt = input) -> int:
    say: Say = print
    try:
        with FeetechBus(args.serial_port, args.baud) as bus:
            calibration = calibrate_arm(bus, prompt, say, invert=args.invert)
        calibration.save(args.out)
    except (RobotError, OSError) as exc:
        sys.stderr.write(f"teleop calibrate: error: {exc}\n")
        return 1
    except EOFError:
        sys.stderr.write("teleop calibrate: error: input ended before calibration finished\n")
        return 1
    say(f"wrote {args.out}")
    return 0


def calibrate_arm(
    bus: FeetechBus,
    prompt: Prompt,
    say: Say,
    invert: Sequence[str] = (),
    ids: Sequence[int] = (1, 2, 3, 4, 5, 6),
) -> Calibration:
    """Calibrate an SO-101 through ``prompt`` (which returns when the person is ready).

    Raises:
        RobotError: The bus failed, or what was recorded cannot be a calibration.
    """
    names = dict(zip(ids, JOINT_NAMES, strict=True))
    steps.check_servos(bus, ids)
    steps.release(bus, ids)
    say("Torque is off: the arm can be moved by hand.")
    prompt(
        "1/2 Put every joint in the middle of its range, with the gripper CLOSED, "
        "then press Enter: "
    )
    middle = steps.read_positions(bus, ids)
    pressed = threading.Event()

    def wait_for_enter() -> None:
        try:
            prompt("2/2 Move each joint, one by one, through its FULL range, then press Enter: ")
        finally:
            pressed.set()  # also when input ends (EOF): the ranges are then checked

    threading.Thread(target=wait_for_enter, daemon=True).start()
    low, high = steps.record_ranges(bus, ids, pressed.is_set, names=names)
    calibration = steps.build_calibration(
        JOINT_NAMES, ids, middle, low, high, dict.fromkeys(invert, -1)
    )
    for name, joint in zip(calibration.names, calibration.joints, strict=True):
        say(
            f"  {name:<14} id {joint.id}  range {joint.range_min:>4}..{joint.range_max:<4} "
            f"homing {joint.homing_offset:>4}  direction {joint.direction:+d}"
        )
    return calibration
