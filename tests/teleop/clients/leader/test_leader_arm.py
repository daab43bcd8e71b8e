"""The leader arm on an emulated bus (its own process, a real pseudo-terminal): torque
off, positions through one sync read, the calibration checked, feedback writes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from leaderkit import LEADER, leader_ticks

from robots.serial import registers as reg
from robots.serial.errors import CalibrationError, RobotDisconnectedError
from teleop.clients.leader.arm import LeaderArm
from teleop.clients.leader.feedback import OFF, GripperPush
from teleop.clients.leader.hand import EmulatedArm, emulated_arm

POSE = np.array([0.2, -0.4, 0.6, 0.0, -0.3, 0.7])
IDS = LEADER.servo_ids


@pytest.fixture(scope="module")
def arm_emulator() -> Iterator[EmulatedArm]:
    with emulated_arm(6, positions=leader_ticks(POSE)) as arm:
        yield arm


def torque(emu: EmulatedArm) -> list[int]:
    return [emu.register(i, reg.TORQUE_ENABLE) for i in IDS]


def test_open_turns_every_servo_torque_off_and_reads_the_pose(arm_emulator: EmulatedArm) -> None:
    arm_emulator.move(leader_ticks(POSE))
    with LeaderArm(arm_emulator.path, LEADER) as arm:
        assert torque(arm_emulator) == [0] * 6
        ticks = arm.read()
        np.testing.assert_allclose(LEADER.to_q(ticks), POSE, atol=1e-3)
        arm_emulator.move({3: 2048 + 200})  # a hand moves the elbow
        assert arm.read()[2] == 2048 + 200
        assert arm.stats.failures == 0


def test_a_calibration_that_does_not_fit_is_refused_naming_the_fix(
    arm_emulator: EmulatedArm,
) -> None:
    arm_emulator.move({1: 300.0})  # far below the pan's calibrated 1000..3200
    try:
        with pytest.raises(CalibrationError, match=r"shoulder_pan.*teleop calibrate"):
            LeaderArm(arm_emulator.path, LEADER).open()
    finally:
        arm_emulator.move(leader_ticks(POSE))


def test_feedback_drives_the_gripper_servo_only_and_close_releases_it(
    arm_emulator: EmulatedArm,
) -> None:
    arm_emulator.move(leader_ticks(POSE))
    with LeaderArm(arm_emulator.path, LEADER, goal_speed_tps=300) as arm:
        assert arm_emulator.register(6, reg.GOAL_SPEED) == 300
        before = arm.stats.transactions
        arm.push(GripperPush(True, goal=1900, limit=80))
        assert torque(arm_emulator) == [0, 0, 0, 0, 0, 1]
        assert arm_emulator.register(6, reg.TORQUE_LIMIT) == 80
        assert arm_emulator.register(6, reg.GOAL_POSITION) == 1900
        arm.push(GripperPush(True, goal=1900, limit=80))  # unchanged: nothing written
        arm.push(GripperPush(True, goal=1900, limit=90))  # only the limit
        assert arm.stats.transactions == before + 4
        arm.push(OFF)
        assert torque(arm_emulator) == [0] * 6
        arm.push(GripperPush(True, goal=1900, limit=90))
    assert torque(arm_emulator) == [0] * 6  # close() turns it off
    assert arm_emulator.register(6, reg.TORQUE_LIMIT) == 1000  # and restores the limit


def test_a_pulled_cable_is_a_disconnect_and_open_works_once_it_is_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    link = tmp_path_factory.mktemp("leader") / "tty"
    with emulated_arm(6, positions=leader_ticks(POSE), link=link) as emu:
        arm = LeaderArm(emu.path, LEADER)
        arm.open()
        emu.pull_cable()
        with pytest.raises(RobotDisconnectedError):
            arm.read()
        assert not arm.is_open
        with pytest.raises(RobotDisconnectedError):
            arm.open()
        emu.plug_cable()
        arm.open()
        np.testing.assert_allclose(LEADER.to_q(arm.read()), POSE, atol=1e-3)
        arm.close()
