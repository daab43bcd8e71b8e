"""The SO-101 follower driver against the emulated bus on a real pseudo-terminal."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pytest
from timing import MS

import robots
from robots.base import NotConnectedError, RobotConfigError
from robots.serial import registers as reg
from robots.serial.calibration import RAD_PER_TICK
from robots.serial.emulator import BusEmulator, FaultConfig
from robots.serial.errors import (
    BusTimeoutError,
    CalibrationError,
    CorruptPacketError,
    RobotDisconnectedError,
    TorqueOffError,
)
from robots.serial.servo_model import ServoPhysics
from robots.serial.so101 import So101Robot

MARGIN_S = 0.1
"""Reply margin: the in-process emulator thread may be starved on a loaded machine."""


def _wait_for(arm: So101Robot, joint: int, target: float, tol: float = 0.005) -> np.ndarray:
    deadline = time.monotonic() + 3000 * MS
    q = arm.read().q
    while abs(q[joint] - target) > tol and time.monotonic() < deadline:
        time.sleep(0.02)
        q = arm.read().q
    return q


def test_registry_needs_a_serial_port() -> None:
    assert "so101" in robots.robot_names()
    with pytest.raises(RobotConfigError, match="needs serial_port="):
        robots.make_robot("so101")


def test_spec_limits_come_from_the_calibration(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    arm = robots.make_robot(
        "so101", serial_port=emulator.path, calibration=calibration_file, timeout_margin_s=MARGIN_S
    )
    half_range = 1024 * RAD_PER_TICK
    np.testing.assert_allclose(arm.spec.lower, [-half_range] * 5 + [0.0])
    np.testing.assert_allclose(arm.spec.upper, [half_range] * 5 + [1.0])
    assert arm.spec.cameras == () and arm.cameras == {}
    assert arm.spec.urdf_path is not None and arm.spec.urdf_path.exists()
    assert arm.spec.ee_link == "gripper_tcp"
    assert arm.spec.joint_names == (
        "shoulder_pan",
        "shoulder_lift",
        "elbow_flex",
        "wrist_flex",
        "wrist_roll",
        "gripper",
    )


def test_connect_holds_the_present_pose_before_torque_on(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    # A stale goal from an earlier session: enabling torque first would jump there.
    for i, servo in emulator.servos.items():
        servo.set(reg.GOAL_POSITION, 1100)
        emulator.move_by_hand(i, 2300 if i < 6 else 1800)
    with So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S) as arm:
        time.sleep(200 * MS)
        for i, servo in emulator.servos.items():
            assert servo.get(reg.TORQUE_ENABLE) == 1
            assert servo.get(reg.GOAL_POSITION) == (2300 if i < 6 else 1800)
            assert abs(servo.get(reg.PRESENT_POSITION) - servo.get(reg.GOAL_POSITION)) <= 1
        q = arm.read().q
    np.testing.assert_allclose(q[:5], (2300 - 2048) * RAD_PER_TICK, atol=1e-9)
    assert q[5] == pytest.approx(0.3)  # 1800 on a 1500..2500 gripper closed at 1500


def test_read_and_command_in_si_units(emulator: BusEmulator, calibration_file: Path) -> None:
    with So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S) as arm:
        target = arm.read().q
        target[2] = 0.5
        target[5] = 1.0
        sent = arm.command(target)
        np.testing.assert_array_equal(sent, target)
        arm.read()  # a round trip: the emulator has taken the (unanswered) sync write
        assert emulator.servos[3].get(reg.GOAL_POSITION) == 2048 + round(0.5 / RAD_PER_TICK)
        assert emulator.servos[6].get(reg.GOAL_POSITION) == 2500  # fully open
        time.sleep(0.05)
        moving = arm.read()
        assert moving.dq[2] > 0.5  # rad/s, on its way up
        q = _wait_for(arm, 2, 0.5)
        assert q[2] == pytest.approx(0.5, abs=0.01)
        assert arm.bus_stats.failures == 0


def test_grasp_force_and_ee_force_from_the_gripper_load(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    emulator.set_obstacle(6, 1800)  # an object 30 % open
    emulator.move_by_hand(6, 2400)
    with So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S) as arm:
        assert arm.read().grasp_force == 0.0
        target = arm.read().q
        target[5] = 0.0
        arm.command(target)
        time.sleep(500 * MS)
        state = arm.read()
    assert state.q[5] == pytest.approx(0.3, abs=0.01)
    assert state.grasp_force == pytest.approx(29.4)  # saturated: 2.94 N·m over 0.1 m
    assert state.tau[5] == state.grasp_force
    assert np.linalg.norm(state.ee_force) == pytest.approx(state.grasp_force)
    assert state.faults == ()


def test_servo_errors_surface_in_state_and_logs(
    emulator: BusEmulator, calibration_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arm = So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S)
    with arm, caplog.at_level(logging.INFO):
        emulator.set_error(3, 0x20 | 0x04)
        assert arm.read().faults == ("overheat:elbow_flex", "overload:elbow_flex")
        arm.read()
        emulator.set_error(3, 0)
        assert arm.read().faults == ()
    assert caplog.text.count("servo fault overload:elbow_flex") == 2  # raised, then cleared
    assert "overload:elbow_flex cleared" in caplog.text


def test_corrupted_replies_are_retried_within_the_bound(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    arm = So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S, retries=20)
    with arm:
        emulator.faults = FaultConfig(corrupt_probability=0.2)
        for _ in range(10):
            assert arm.read().faults == ()
        assert arm.bus_stats.corrupt_replies > 0 and arm.bus_stats.failures == 0
        emulator.faults = FaultConfig(corrupt_probability=1.0)
        with pytest.raises(CorruptPacketError, match="21 attempts"):
            arm.read()
        emulator.faults = FaultConfig()
        assert arm.read().faults == ("corrupt_reply",)
        assert arm.read().faults == ()


def test_no_reply_is_a_timeout_and_a_fault_and_the_arm_holds(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    arm = So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S, retries=1)
    with arm:
        hold = arm.read().q
        emulator.faults = FaultConfig(drop_probability=1.0)
        with pytest.raises(BusTimeoutError, match="no reply"):
            arm.read()
        assert arm.is_connected
        emulator.faults = FaultConfig()
        state = arm.read()
        assert "no_reply:shoulder_pan" in state.faults
        np.testing.assert_allclose(state.q, hold, atol=2 * RAD_PER_TICK)
        assert all(s.get(reg.TORQUE_ENABLE) == 1 for s in emulator.servos.values())


def test_cable_pulled_then_reconnect_when_the_port_comes_back(
    tmp_path: Path, calibration_file: Path
) -> None:
    link = tmp_path / "ttyACM0"
    with BusEmulator(6, link=link, positions={6: 2000.0}) as emu:
        arm = So101Robot(str(link), calibration_file, timeout_margin_s=MARGIN_S)
        arm.connect()
        target = arm.read().q
        target[0] = 0.3
        arm.command(target)
        arm.read()  # a round trip: the emulator has taken the goal
        emu.pull_cable()
        with pytest.raises(RobotDisconnectedError, match="cable was pulled"):
            arm.read()
        assert not arm.is_connected
        with pytest.raises(NotConnectedError):
            arm.read()
        with pytest.raises(RobotDisconnectedError, match="plugged in"):
            arm.connect()  # not back yet
        time.sleep(0.3)
        emu.move_by_hand(2, 2500)  # someone moved it while it was unplugged (torque on)
        emu.servos[2].set(reg.TORQUE_ENABLE, 0)
        emu.plug_cable()
        arm.connect()
        assert arm.is_connected
        q = arm.read().q
        assert q[0] == pytest.approx(0.3, abs=0.01)  # the servos held their goal
        assert q[1] == pytest.approx((2500 - 2048) * RAD_PER_TICK, abs=0.005)  # no jump back
        arm.disconnect()
        assert all(s.get(reg.TORQUE_ENABLE) == 0 for s in emu.servos.values())


def test_disconnect_turns_torque_off(emulator: BusEmulator, calibration_file: Path) -> None:
    arm = So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S)
    with arm:
        assert all(s.get(reg.TORQUE_ENABLE) == 1 for s in emulator.servos.values())
    assert all(s.get(reg.TORQUE_ENABLE) == 0 for s in emulator.servos.values())
    arm.disconnect()  # idempotent


def test_disconnect_says_when_torque_could_not_be_turned_off(
    emulator: BusEmulator, calibration_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arm = So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S, retries=0)
    arm.connect()
    emulator.faults = FaultConfig(drop_probability=1.0)
    with caplog.at_level(logging.ERROR), pytest.raises(TorqueOffError, match="power off"):
        arm.disconnect()
    assert "could not disable torque" in caplog.text
    assert not arm.is_connected
    emulator.faults = FaultConfig()
    arm.reconnect()
    assert arm.is_connected
    arm.disconnect()


def test_missing_calibration_is_refused_at_connect_with_the_fix(
    emulator: BusEmulator, tmp_path: Path
) -> None:
    arm = So101Robot(emulator.path, tmp_path / "nope.json", timeout_margin_s=MARGIN_S)
    with pytest.raises(CalibrationError, match=r"teleop calibrate --serial-port PORT --out"):
        arm.connect()
    assert not arm.is_connected
    assert all(s.get(reg.TORQUE_ENABLE) == 0 for s in emulator.servos.values())


def test_calibration_for_another_arm_is_refused(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    doc = json.loads(calibration_file.read_text())
    doc["joints"]["elbow_flex"]["id"] = 12
    calibration_file.write_text(json.dumps(doc))
    with pytest.raises(BusTimeoutError, match=r"elbow_flex.*this arm's calibration"):
        So101Robot(emulator.path, calibration_file, retries=0).connect()
    doc["joints"]["elbow_flex"]["id"] = 3
    calibration_file.write_text(json.dumps(doc))
    emulator.move_by_hand(4, 3900)
    with pytest.raises(CalibrationError, match=r"\['wrist_flex'\] sit outside.*teleop calibrate"):
        So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S).connect()
    assert all(s.get(reg.TORQUE_ENABLE) == 0 for s in emulator.servos.values())


def test_gripper_blocked_by_stop_reports_no_grasp_when_pushing_open(
    calibration_file: Path,
) -> None:
    physics = {6: ServoPhysics(stops=(0, 2300))}  # opening is blocked at 2300
    with BusEmulator(6, positions={6: 2000.0}, physics=physics) as emu:
        with So101Robot(emu.path, calibration_file, timeout_margin_s=MARGIN_S) as arm:
            target = arm.read().q
            target[5] = 1.0
            arm.command(target)
            time.sleep(400 * MS)
            state = arm.read()
    assert state.q[5] == pytest.approx(0.8, abs=0.01)
    assert state.grasp_force == 0.0 and not state.ee_force.any()


def test_a_second_driver_on_the_same_port_is_refused(
    emulator: BusEmulator, calibration_file: Path
) -> None:
    with So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S):
        with pytest.raises(RobotDisconnectedError, match="no other program holds the port"):
            So101Robot(emulator.path, calibration_file, timeout_margin_s=MARGIN_S).connect()
