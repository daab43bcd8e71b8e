"""The steps of calibrating an arm on a Feetech bus, without any prompting.

``teleop calibrate`` asks the person to move the arm between these steps; tests drive
them with an emulated bus. The steps:

1. :func:`release`: torque off, so the arm can be moved by hand;
2. :func:`read_positions` with the arm in its middle pose: each joint's homing offset
   (the tick that will mean 0 rad), with the gripper closed;
3. :func:`record_ranges` while each joint is moved through its full range;
4. :func:`build_calibration`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from robots.serial import registers as reg
from robots.serial.bus import FeetechBus
from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.errors import CalibrationError, ServoMismatchError, TorqueOffError

WRAP_JUMP_TICKS = reg.TICKS_PER_TURN // 2
"""A jump this large between two polls means the encoder wrapped past 0/4095."""


def check_servos(bus: FeetechBus, ids: Sequence[int]) -> None:
    """Check that every id answers as an STS3215.

    Raises:
        BusTimeoutError: Some servo does not answer.
        ServoMismatchError: Some servo is another model.
    """
    models = bus.sync_read_register(reg.MODEL_NUMBER, ids)
    wrong = {i: m for i, m in models.items() if m != reg.MODEL_STS3215}
    if wrong:
        raise ServoMismatchError(
            f"servo(s) {wrong} (id: model) are not STS3215 (model {reg.MODEL_STS3215})"
        )


def release(bus: FeetechBus, ids: Sequence[int]) -> None:
    """Turn torque off on every servo and check that it is off.

    Raises:
        TorqueOffError: Some servo still reports torque on.
    """
    bus.sync_write_register(reg.TORQUE_ENABLE, dict.fromkeys(ids, 0))
    on = [i for i, v in bus.sync_read_register(reg.TORQUE_ENABLE, ids).items() if v]
    if on:
        raise TorqueOffError(f"servo(s) {on} still report torque on")


def read_positions(bus: FeetechBus, ids: Sequence[int]) -> dict[int, int]:
    """Present_Position of every servo, [ticks]."""
    return bus.sync_read_register(reg.PRESENT_POSITION, ids)


def record_ranges(
    bus: FeetechBus,
    ids: Sequence[int],
    done: Callable[[], bool],
    poll_s: float = 0.02,
    names: Mapping[int, str] | None = None,
) -> tuple[dict[int, int], dict[int, int]]:
    """Poll positions until ``done()``; return each servo's lowest and highest tick.

    Args:
        bus: An open bus.
        ids: The servos.
        done: Called after every poll; True ends the recording.
        poll_s: Time between polls, in [s].
        names: Joint name per id, for messages.

    Raises:
        CalibrationError: A joint crossed the encoder's 0/4095 wrap.
    """
    first = read_positions(bus, ids)
    low, high, last = dict(first), dict(first), dict(first)
    while not done():
        time.sleep(poll_s)
        for i, tick in read_positions(bus, ids).items():
            if abs(tick - last[i]) > WRAP_JUMP_TICKS:
                name = (names or {}).get(i, f"servo {i}")
                raise CalibrationError(
                    f"{name} crossed the encoder's 0/4095 point ({last[i]} -> {tick}); its "
                    "range must not: re-seat its horn so that the middle pose reads near 2048"
                )
            last[i] = tick
            low[i], high[i] = min(low[i], tick), max(high[i], tick)
    return low, high


def build_calibration(
    names: Sequence[str],
    ids: Sequence[int],
    middle: Mapping[int, int],
    low: Mapping[int, int],
    high: Mapping[int, int],
    directions: Mapping[str, int] | None = None,
) -> Calibration:
    """The calibration from the recorded ticks.

    Args:
        names: Joint names, the gripper last.
        ids: Servo id of each joint.
        middle: Ticks in the middle pose (gripper closed): the homing offsets.
        low: Lowest tick seen per id.
        high: Highest tick seen per id.
        directions: Per joint, -1 where the joint angle should fall as the ticks rise
            (default +1). The gripper's direction comes from where it was closed.

    Raises:
        CalibrationError: A range is too small or the middle pose lies outside it.
    """
    directions = directions or {}
    joints = []
    for k, (name, i) in enumerate(zip(names, ids, strict=True)):
        direction = directions.get(name, 1)
        if k == len(names) - 1:  # the gripper: closed at whichever end it sat near
            direction = 1 if middle[i] - low[i] <= high[i] - middle[i] else -1
        joints.append(JointCalibration(i, direction, middle[i], low[i], high[i]))
    return Calibration(tuple(names), tuple(joints))
