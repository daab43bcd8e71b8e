"""The contract every Robot backend keeps, run against each registered backend.

``so101`` runs on an emulated servo bus (``robots.serial.emulator``) with a calibration
file written here; the other backends need nothing but their name.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from timing import MS, SCALE

import robots
from robots import (
    CommandShapeError,
    NonFiniteCommandError,
    NotConnectedError,
    Robot,
    RobotConfigError,
)
from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.emulator import BusEmulator
from robots.serial.so101 import JOINT_NAMES

BACKENDS = ["fake", "sim", "sim:panda", "so101"]
"""Every registered backend (a test below checks that against ``robots.robot_names()``)."""
CAMERAS = {"fake": {"front", "wrist"}, "sim": {"front", "wrist"},
           "sim:panda": {"front", "wrist"}, "so101": set()}  # fmt: skip
"""The cameras each backend has by default (the bare serial arm has none)."""

MakeRobot = Callable[..., Robot]


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cal") / "so101.json"
    arm = tuple(JointCalibration(i, 1, 2048, 1024, 3072) for i in range(1, 6))
    Calibration(JOINT_NAMES, (*arm, JointCalibration(6, 1, 1500, 1500, 2500))).save(path)
    return path


@contextlib.contextmanager
def robot_maker(name: str, calibration: Path) -> Iterator[MakeRobot]:
    """A ``make_robot`` for ``name``; for so101 it owns an emulated bus of its own."""
    if name != "so101":
        yield lambda **kw: robots.make_robot(name, **kw)
        return
    with BusEmulator(6, positions={6: 2000.0}) as bus:

        def make(**kw: Any) -> Robot:
            return robots.make_robot(
                name, serial_port=bus.path, calibration=calibration, timeout_margin_s=0.1, **kw
            )

        yield make


@pytest.fixture(scope="module", params=BACKENDS)
def arm(request: pytest.FixtureRequest, calibration: Path) -> Iterator[Robot]:
    with robot_maker(request.param, calibration) as make, make() as robot:
        yield robot


def settle(arm: Robot, target: np.ndarray, timeout_s: float = 3.0, tol: float = 0.05) -> np.ndarray:
    """Command ``target`` until the arm gets within ``tol`` of it; return the last q."""
    deadline = time.monotonic() + timeout_s * SCALE
    q = arm.read().q
    while time.monotonic() < deadline:
        arm.command(target)
        q = arm.read().q
        if np.max(np.abs(q - target)) < tol:
            break
        time.sleep(0.01)
    return q


def test_every_registered_backend_is_in_this_suite() -> None:
    # A new backend registers itself in robots' registry; it cannot skip the contract.
    assert sorted(BACKENDS) == robots.robot_names() and sorted(CAMERAS) == sorted(BACKENDS)


def test_unknown_name_lists_known_robots() -> None:
    with pytest.raises(RobotConfigError, match=r"known robots: .*fake.*sim"):
        robots.make_robot("nonesuch")


@pytest.mark.parametrize("name", BACKENDS)
def test_read_and_command_before_connect_raise(name: str, calibration: Path) -> None:
    with robot_maker(name, calibration) as make:
        robot = make()
        with pytest.raises(NotConnectedError, match="connect"):
            robot.read()
        with pytest.raises(NotConnectedError):
            robot.command(np.zeros(robot.spec.dof))


def test_spec_lists_arm_joints_then_gripper(arm: Robot, request: pytest.FixtureRequest) -> None:
    spec = arm.spec
    assert spec.joint_names[-1] == "gripper"
    assert spec.dof == len(spec.joint_names) >= 6
    assert (spec.lower[-1], spec.upper[-1]) == (0.0, 1.0)
    assert np.all(spec.lower < spec.upper)
    assert np.all(spec.max_velocity > 0) and np.all(spec.max_effort > 0)
    backend = request.node.callspec.params["arm"]
    assert {c.name for c in spec.cameras} == set(arm.cameras) == CAMERAS[backend]


def test_state_shapes_units_and_clock(arm: Robot) -> None:
    before = time.monotonic_ns()
    state = arm.read()
    for field in (state.q, state.dq, state.tau):
        assert field.shape == (arm.spec.dof,)
        assert np.all(np.isfinite(field))
    assert state.ee_force.shape == (3,)
    assert 0.0 <= state.q[-1] <= 1.0
    # Stamped on time.monotonic_ns(), not the wall clock or a clock starting at 0;
    # the bound is loose because a loaded machine can delay a reading.
    assert abs(state.t_ns - before) < 30e9
    time.sleep(20 * MS)
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
    target = arm.spec.upper + 10.0
    sent = arm.command(target)
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
    time.sleep(300 * MS)
    moved = np.abs(arm.read().q - hold)
    assert moved[1] < 0.02, f"joint 1 moved {moved[1]} rad after a refused command"


def test_cameras_give_stamped_frames(arm: Robot) -> None:
    for name, cam in arm.cameras.items():
        frame = cam.wait_newer(-1, timeout_s=30.0)
        spec = cam.spec
        assert frame.image.shape == (spec.height, spec.width, 3), name
        assert frame.image.dtype == np.uint8
        assert abs(frame.t_ns - time.monotonic_ns()) < 30e9  # on the monotonic clock
        newer = cam.wait_newer(frame.seq, timeout_s=5.0)
        assert newer.t_ns > frame.t_ns


@pytest.mark.parametrize("name", BACKENDS)
def test_disconnect_is_idempotent_and_final(name: str, calibration: Path) -> None:
    with robot_maker(name, calibration) as make:
        robot = make(cameras=())
        with robot:
            robot.read()
        robot.disconnect()
    with pytest.raises(NotConnectedError):
        robot.read()
