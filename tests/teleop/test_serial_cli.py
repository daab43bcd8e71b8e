"""``teleop emulate-bus`` and ``teleop calibrate``, run as a user would (the emulator as
a real subprocess) and with simulated keyboard input."""

from __future__ import annotations

import argparse
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from timing import MS

from robots.serial import registers as reg
from robots.serial.bus import FeetechBus
from robots.serial.calibration import Calibration
from robots.serial.emulator import BusEmulator
from robots.serial.so101 import JOINT_NAMES
from teleop.cli.serial import (
    add_calibrate_parser,
    add_emulate_bus_parser,
    calibrate_arm,
    run_calibrate,
)


def _teleop(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "teleop.cli", *args],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )  # type: ignore[call-overload]


@pytest.fixture
def emulate_bus(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    args = getattr(request, "param", ())
    proc = _teleop("emulate-bus", *args)
    assert proc.stdout is not None
    path = proc.stdout.readline().strip()
    yield proc, path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_emulate_bus_prints_a_pty_path_and_stops_on_sigterm(
    emulate_bus: tuple[subprocess.Popen[str], str],
) -> None:
    proc, path = emulate_bus
    assert path.startswith("/dev/pts/") and os.path.realpath(path) == path
    with FeetechBus(path, timeout_margin_s=0.2) as bus:
        assert bus.sync_read_register(reg.MODEL_NUMBER, [1, 6]) == {1: 777, 6: 777}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("emulate_bus", [("--servos", "2", "--return-after", "0.3")], indirect=True)
def test_sigusr1_pulls_the_cable_and_the_link_comes_back(
    emulate_bus: tuple[subprocess.Popen[str], str],
) -> None:
    proc, path = emulate_bus
    assert "teleop-bus-" in path and os.path.islink(path)
    with FeetechBus(path, timeout_margin_s=0.2) as bus:
        assert bus.ping(2) == 0
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10_000 * MS
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    with FeetechBus(path, timeout_margin_s=0.2) as bus:
        assert bus.ping(1) == 0
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert not os.path.exists(path)  # the temporary link is cleaned up


@pytest.mark.parametrize(
    "args, message",
    [
        (("--drop", "2"), "not a probability"),
        (("--baud", "12345"), "not an STS baud rate"),
        (("--servos", "0"), "use 1..253"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args: tuple[str, ...], message: str) -> None:
    proc = _teleop("emulate-bus", *args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    # One line from us (other imports may print banners of their own before it).
    assert message in err.strip().splitlines()[-1] and out == ""


def test_parsers_register_with_help() -> None:
    parser = argparse.ArgumentParser(prog="teleop")
    sub = parser.add_subparsers()
    add_emulate_bus_parser(sub)
    add_calibrate_parser(sub)
    args = parser.parse_args(
        ["calibrate", "--serial-port", "/dev/x", "--out", "a.json", "--invert", "wrist_flex"]
    )
    assert (args.serial_port, args.out, args.invert) == ("/dev/x", Path("a.json"), ["wrist_flex"])
    assert parser.parse_args(["emulate-bus"]).servos == 6


def test_calibrate_with_simulated_input(tmp_path: Path) -> None:
    emu = BusEmulator(6, positions={6: 1500.0})
    said: list[str] = []

    def person(prompt: str) -> str:  # answers each prompt after doing what it asks
        said.append(prompt)
        if prompt.startswith("1/2"):
            emu.move_by_hand(2, 2100)
        else:
            for servo_id in range(1, 7):
                for position in (1000 + servo_id, 2900 + servo_id, 2048):
                    emu.move_by_hand(servo_id, position)
                    polled = emu.stats.requests + 2
                    while emu.stats.requests < polled:
                        time.sleep(0.002)
        return ""

    with emu, FeetechBus(emu.path, timeout_margin_s=0.2) as bus:
        cal = calibrate_arm(bus, person, said.append, invert=["elbow_flex"])
    assert cal.names == JOINT_NAMES
    assert cal.joints[1].homing_offset == 2100 and cal.joints[1].range_max == 2902
    assert cal.joints[2].direction == -1
    assert (cal.joints[5].range_min, cal.joints[5].direction) == (1006, 1)
    assert any("Torque is off" in line for line in said)
    assert any(line.strip().startswith("gripper") for line in said)
    cal.save(tmp_path / "so101.json")
    assert Calibration.load(tmp_path / "so101.json", JOINT_NAMES) == cal


def test_calibrate_without_movement_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n\n"))
    with BusEmulator(6) as emu:
        args = argparse.Namespace(
            serial_port=emu.path, out=tmp_path / "c.json", baud=1_000_000, invert=[]
        )
        assert run_calibrate(args) == 1
    err = capsys.readouterr().err
    assert "range is only 0 ticks" in err and "full range" in err
    assert not (tmp_path / "c.json").exists()


def test_calibrate_on_a_missing_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        serial_port=str(tmp_path / "ttyACM7"), out=tmp_path / "c.json", baud=1_000_000, invert=[]
    )
    assert run_calibrate(args, prompt=lambda _: "") == 1
    assert "cannot open serial port" in capsys.readouterr().err
