"""Calibration: ticks <-> SI, the file and its refusals, and the calibration steps driven
against the emulated bus (the person moving the arm is simulated)."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from timing import MS

from robots.serial import calibrate as steps
from robots.serial import registers as reg
from robots.serial.bus import FeetechBus
from robots.serial.calibration import (
    RAD_PER_TICK,
    Calibration,
    JointCalibration,
    default_calibration_path,
)
from robots.serial.emulator import BusEmulator
from robots.serial.errors import CalibrationError
from robots.serial.so101 import JOINT_NAMES

NAMES = ("a", "b", "gripper")


def _calibration(gripper_direction: int = 1, b_direction: int = -1) -> Calibration:
    return Calibration(
        NAMES,
        (
            JointCalibration(1, 1, 2048, 1024, 3072),
            JointCalibration(2, b_direction, 1000, 500, 1500),
            JointCalibration(3, gripper_direction, 2000, 2000, 3000),
        ),
    )


def test_ticks_to_si_and_back() -> None:
    cal = _calibration()
    q = cal.to_q([3072, 1100, 2250])
    np.testing.assert_allclose(q, [math.pi / 2, -100 * RAD_PER_TICK, 0.25])
    np.testing.assert_array_equal(cal.to_ticks(q), [3072, 1100, 2250])
    np.testing.assert_allclose(
        cal.to_velocity([4096, 100, -500]), [2 * math.pi, -100 * RAD_PER_TICK, -0.5]
    )


def test_gripper_closed_at_either_end() -> None:
    opens_up, opens_down = _calibration(1), _calibration(-1)
    assert opens_up.to_q([2048, 1000, 2000])[-1] == 0.0
    assert opens_down.to_q([2048, 1000, 2000])[-1] == 1.0
    assert opens_down.to_ticks(np.array([0.0, 0.0, 0.0]))[-1] == 3000
    assert opens_up.to_q([2048, 1000, 1900])[-1] == 0.0  # squeezed past closed: still 0


def test_goals_are_kept_inside_the_ranges() -> None:
    np.testing.assert_array_equal(
        _calibration().to_ticks(np.array([9.0, 9.0, 7.0])), [3072, 500, 3000]
    )


def test_limits_follow_direction() -> None:
    lower, upper = _calibration().limits()
    np.testing.assert_allclose(lower, [-1024 * RAD_PER_TICK, -500 * RAD_PER_TICK, 0.0])
    np.testing.assert_allclose(upper, [1024 * RAD_PER_TICK, 500 * RAD_PER_TICK, 1.0])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "arm.json"
    _calibration().save(path)
    assert json.loads(path.read_text())["joints"]["b"] == {
        "id": 2,
        "direction": -1,
        "homing_offset": 1000,
        "range_min": 500,
        "range_max": 1500,
    }
    assert Calibration.load(path, NAMES) == _calibration()


def test_default_path_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TELEOP_CALIBRATION_DIR", str(tmp_path))
    assert default_calibration_path() == tmp_path / "so101.json"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("format"), "not a teleop calibration file"),
        (lambda d: d.update(version=2), "version 2"),
        (lambda d: d["joints"].pop("b"), r"expected \['a', 'b', 'gripper'\].*another arm"),
        (lambda d: d["joints"]["a"].pop("range_max"), r"lacks \['range_max'\]"),
        (lambda d: d["joints"]["a"].update(id="1"), "id must be an integer"),
        (lambda d: d["joints"]["b"].update(direction=0), "direction must be 1 or -1"),
        (lambda d: d["joints"]["b"].update(id=1), "ids must differ"),
        (lambda d: d["joints"]["a"].update(range_max=1030), "only 6 ticks.*full range"),
        (lambda d: d["joints"]["a"].update(homing_offset=4000), "outside its range"),
    ],
)
def test_a_wrong_file_is_refused_with_the_fix(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    path = tmp_path / "arm.json"
    doc = _calibration().to_json()
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match=message) as err:
        Calibration.load(path, NAMES)
    assert str(path) in str(err.value) and "teleop calibrate" in str(err.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match=r"no calibration file.*teleop calibrate"):
        Calibration.load(tmp_path / "none.json", NAMES)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match=r"cannot read.*teleop calibrate"):
        Calibration.load(tmp_path / "bad.json", NAMES)


def _sweep(emu: BusEmulator, moves: dict[int, list[int]], done: threading.Event) -> None:
    """A person moving each joint through positions, one after the other."""
    for servo_id, positions in moves.items():
        for position in positions:
            emu.move_by_hand(servo_id, position)
            polled = emu.stats.requests + 2  # a whole poll after the move has been answered
            deadline = time.monotonic() + 5000 * MS  # the poller may have stopped (an error)
            while emu.stats.requests < polled and time.monotonic() < deadline:
                time.sleep(0.002)
    done.set()


def test_calibration_steps_on_the_emulated_arm() -> None:
    ids = (1, 2, 3, 4, 5, 6)
    emu = BusEmulator(6, positions={6: 1600.0})
    with emu, FeetechBus(emu.path, timeout_margin_s=0.1) as bus:
        emu.servos[1].set(reg.TORQUE_ENABLE, 1)
        steps.check_servos(bus, ids)
        steps.release(bus, ids)
        assert all(s.get(reg.TORQUE_ENABLE) == 0 for s in emu.servos.values())
        emu.move_by_hand(1, 2100)  # the middle pose
        middle = steps.read_positions(bus, ids)
        done = threading.Event()
        moves = {i: [1000 + 10 * i, 3000 - 10 * i, 2048] for i in range(1, 6)}
        moves[6] = [2600, 1600]
        person = threading.Thread(daemon=True, target=_sweep, args=(emu, moves, done))
        person.start()
        low, high = steps.record_ranges(bus, ids, done.is_set, poll_s=0.005)
        person.join()
    cal = steps.build_calibration(JOINT_NAMES, ids, middle, low, high, {"wrist_flex": -1})
    assert cal.joints[0] == JointCalibration(1, 1, 2100, 1010, 2990)
    assert cal.joints[3].direction == -1
    assert cal.joints[5] == JointCalibration(6, 1, 1600, 1600, 2600)  # closed at the low end


def test_a_range_across_the_encoder_wrap_is_refused() -> None:
    emu = BusEmulator(1, positions={1: 100.0})
    with emu, FeetechBus(emu.path, timeout_margin_s=0.1) as bus:
        done = threading.Event()
        person = threading.Thread(daemon=True, target=_sweep, args=(emu, {1: [50, 4050]}, done))
        person.start()
        with pytest.raises(CalibrationError, match=r"shoulder_pan crossed.*0/4095"):
            steps.record_ranges(bus, (1,), done.is_set, poll_s=0.005, names={1: "shoulder_pan"})
        person.join()
