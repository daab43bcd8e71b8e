"""The Robot contract (``tests/robots/test_contract.py``) kept by ``so101`` on an emulated
bus. The shared suite builds robots with ``make_robot(name)`` alone, which cannot reach a
serial port, so its assertions are repeated here where they apply (the bare arm has no
cameras)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import robots
from robots import CommandShapeError, NonFiniteCommandError, NotConnectedError, Robot
from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.emulator import BusEmulator
from robots.serial.so101 import JOINT_NAMES


@pytest.fixture(scope="module")
def emulator() -> Iterator[BusEmulator]:
    with BusEmulator(6, positions={6: 2000.0}) as emu:
        yield emu


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "so101.json"
    arm = tuple(JointCalibration(i, 1, 2048, 1024, 3072) for i in range(1, 6))
    Calibration(JOINT_NAMES, (*arm, JointCalibration(6, 1, 1500, 1500, 2500))).save(path)
    return path


@pytest.fixture(scope="module")
def arm(emulator: BusEmulator, calibration: Path) -> Iterator[Robot]:
    with robots.make_robot("so101", serial_port=emulator.path, calibration=calibration,
                           timeout_margin_s=0.1) as robot:
        yield robot


def settle(arm: Robot, target: np.ndarray, timeout_s: float = 3.0, tol: float = 0.05) -> np.ndarray:
    deadline = time.monotonic() + timeout_s
    q = arm.read().q
    while time.monotonic() < deadline:
        arm.command(target)
        q = arm.read().q
        if np.max(np.abs(q - target)) < tol:
            break
        time.sleep(0.01)
    return q


def test_read_and_command_before_connect_raise(emulator: BusEmulator, calibration: Path) -> None:
    robot = robots.make_robot("so101", serial_port=emulator.path, calibration=calibration,
                           timeout_margin_s=0.1)
    with pytest.raises(NotConnectedError, match="connect"):
        robot.read()
    with pytest.raises(NotConnectedError):
        robot.command(np.zeros(robot.spec.dof))


def test_spec_lists_arm_joints_then_gripper(arm: Robot) -> None:
    spec = arm.spec
    assert spec.joint_names[-1] == "gripper"
    assert spec.dof == len(spec.joint_names) >= 6
    assert (spec.lower[-1], spec.upper[-1]) == (0.0, 1.0)
    assert np.all(spec.lower < spec.upper)
    assert np.all(spec.max_velocity > 0) and np.all(spec.max_effort > 0)
    assert {c.name for c in spec.cameras} == set(arm.cameras) == set()


def test_state_shapes_units_and_clock(arm: Robot) -> None:
    before = time.monotonic_ns()
    state = arm.read()
    for field in (state.q, state.dq, state.tau):
        assert field.shape == (arm.spec.dof,)
        assert np.all(np.isfinite(field))
    assert state.ee_force.shape == (3,)
    assert 0.0 <= state.q[-1] <= 1.0
    assert abs(state.t_ns - before) < 1e9
    time.sleep(0.02)
    assert arm.read().t_ns > state.t_ns


def test_command_moves_arm_and_returns_what_was_sent(arm: Robot) -> None:
    home = arm.read().q
    target = home.copy()
    target[0] += 0.3
    target[-1] = 0.5
    sent = arm.command(target)
    np.testing.assert_array_equal(sent, target)
    q = settle(arm, target)
    assert abs(q[0] - target[0]) < 0.05, f"joint 0 at {q[0]}, target {target[0]}"
    settle(arm, home)


def test_out_of_limit_command_is_clamped(arm: Robot) -> None:
    sent = arm.command(arm.spec.upper + 10.0)
    np.testing.assert_array_equal(sent, arm.spec.upper)
    settle(arm, (arm.spec.lower + arm.spec.upper) / 2, tol=0.1)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ("short", CommandShapeError, "expected"),
        ("long", CommandShapeError, "gripper"),
        ("nan", NonFiniteCommandError, "joint '.*' target nan"),
        ("inf", NonFiniteCommandError, "not finite"),
    ],
)
def test_bad_command_raises_and_does_not_move(
    arm: Robot, bad: str, error: type[Exception], message: str
) -> None:
    hold = settle(arm, arm.read().q)
    arm.command(hold)
    q = hold.copy()
    q[1] += 0.5
    vectors = {
        "short": q[:-1],
        "long": np.append(q, 0.0),
        "nan": np.where(np.arange(q.size) == 1, np.nan, q),
        "inf": np.where(np.arange(q.size) == 2, -np.inf, q),
    }
    with pytest.raises(error, match=message):
        arm.command(vectors[bad])
    time.sleep(0.3)
    moved = np.abs(arm.read().q - hold)
    assert moved[1] < 0.02, f"joint 1 moved {moved[1]} rad after a refused command"


def test_disconnect_is_idempotent_and_final(calibration: Path) -> None:
    with BusEmulator(6, positions={6: 2000.0}) as emulator:  # the shared arm holds the other
        robot = robots.make_robot("so101", serial_port=emulator.path, calibration=calibration,
                                  cameras=(), timeout_margin_s=0.1)
        with robot:
            robot.read()
    robot.disconnect()
    with pytest.raises(NotConnectedError):
        robot.read()
