"""Fixtures for the serial backend: an emulated bus on a real pseudo-terminal, and a
calibration file that fits it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.emulator import BusEmulator
from robots.serial.so101 import JOINT_NAMES

# The emulated arm: joints centred at 2048 with a half-turn range; the gripper closed at
# 1500 and open at 2500. A calibration for it, as `teleop calibrate` would write.
ARM_RANGE = (1024, 3072)
GRIPPER_RANGE = (1500, 2500)
START = {1: 2048.0, 2: 2048.0, 3: 2048.0, 4: 2048.0, 5: 2048.0, 6: 2000.0}


def arm_calibration(gripper_direction: int = 1) -> Calibration:
    arm = tuple(JointCalibration(i, 1, 2048, *ARM_RANGE) for i in range(1, 6))
    gripper = JointCalibration(6, gripper_direction, GRIPPER_RANGE[0], *GRIPPER_RANGE)
    return Calibration(JOINT_NAMES, (*arm, gripper))


@pytest.fixture
def emulator() -> Iterator[BusEmulator]:
    with BusEmulator(6, positions=START, seed=1) as emu:
        yield emu


@pytest.fixture
def calibration_file(tmp_path: Path) -> Path:
    path = tmp_path / "so101.json"
    arm_calibration().save(path)
    return path
