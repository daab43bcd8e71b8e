"""The leader arm on its own Feetech bus: torque off, positions read by one sync read.

The operator moves the leader by hand, so every servo's torque is off, checked by
reading it back. With force feedback, the gripper servo alone may get a little torque
(see :mod:`teleop.clients.leader.feedback`); it is written only when it changes.

Bus faults arrive as ``robots.base.RobotIOError`` subclasses (``BusTimeoutError``,
``CorruptPacketError``, ``RobotDisconnectedError``) from ``robots.serial.bus``, already
retried within the bus's bound; the app shows them, sends nothing, and calls
:meth:`LeaderArm.open` again until the port is back.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np

from robots.base import RobotIOError
from robots.serial import registers as reg
from robots.serial.bus import BusStats, FeetechBus
from robots.serial.calibration import Calibration, IntArray
from robots.serial.errors import CalibrationError, ServoMismatchError, TorqueOffError
from teleop.clients.device import InputDevice
from teleop.clients.leader.feedback import OFF, GripperPush

log = logging.getLogger(__name__)

OPEN_TOLERANCE_TICKS = 100
"""How far (~9 degrees) a joint may sit outside its calibrated range at open."""
FULL_TORQUE_LIMIT = 1000
"""Torque_Limit's power-on value (100 %), restored once feedback torque is off."""


class LeaderArm(InputDevice):
    """A leader arm (SO-101-class, STS3215 servos) read through its calibration's ids.

    Args:
        port: The leader's serial device, e.g. ``/dev/ttyACM1``.
        calibration: The leader's calibration.
        baudrate: Bus speed in [bit/s].
        retries: Extra attempts after a missing or corrupted reply.
        timeout_margin_s: Reply time allowed beyond the bytes' wire time, in [s].
        goal_speed_tps: With force feedback, the gripper's Goal_Speed in [ticks/s];
            None: no feedback, all torque stays off.
    """

    def __init__(
        self,
        port: str,
        calibration: Calibration,
        *,
        baudrate: int = 1_000_000,
        retries: int = 2,
        timeout_margin_s: float = 0.020,
        goal_speed_tps: int | None = None,
    ) -> None:
        self.calibration = calibration
        self.bus = FeetechBus(port, baudrate, retries=retries, timeout_margin_s=timeout_margin_s)
        self._ids = calibration.servo_ids
        self._gripper = self._ids[-1]
        self._goal_speed = goal_speed_tps
        self._applied: GripperPush | None = OFF

    @property
    def port(self) -> str:
        return self.bus.port

    @property
    def is_open(self) -> bool:
        return self.bus.is_open

    @property
    def stats(self) -> BusStats:
        """The bus's counters (requests, retries, timeouts, corrupt replies, failures)."""
        return self.bus.stats

    def open(self) -> None:
        """Open the port, check the servos and the calibration, and turn torque off.

        Raises:
            RobotDisconnectedError: The port cannot be opened.
            BusTimeoutError, CorruptPacketError: The servos do not answer cleanly.
            ServoMismatchError, CalibrationError: Not this arm, or not its calibration.
            TorqueOffError: Some servo keeps its torque on.
        """
        self.bus.open()
        try:
            self._check_servos()
            self._release()
            if self._goal_speed is not None:
                self.bus.write_register(self._gripper, reg.GOAL_SPEED, self._goal_speed)
        except BaseException:
            self.bus.close()
            raise
        log.info("%s: leader arm ready, torque off", self.port)

    def close(self) -> None:
        """Turn torque off (best effort: logged when impossible) and close the port."""
        if self.bus.is_open:
            try:
                self._release()
            except RobotIOError as exc:
                log.error(
                    "%s: could not confirm the leader's torque is off: %s; if its "
                    "gripper feels stiff, switch the leader's power off",
                    self.port,
                    exc,
                )
        self.bus.close()

    def read(self) -> IntArray:
        """Present_Position of every servo, in [ticks], in the calibration's order."""
        try:
            present = self.bus.sync_read_register(reg.PRESENT_POSITION, self._ids)
        except RobotIOError:
            self._applied = None  # unknown now: write everything on the next push
            raise
        return np.array([present[i] for i in self._ids], dtype=np.int64)

    def push(self, want: GripperPush) -> None:
        """Apply a feedback push to the gripper servo, writing only what changed."""
        have = self._applied
        if want == have:
            return
        self._applied = None
        if not want.torque:
            self.bus.write_register(self._gripper, reg.TORQUE_ENABLE, 0)
        else:
            if have is None or want.limit != have.limit:
                self.bus.write_register(self._gripper, reg.TORQUE_LIMIT, want.limit)
            if have is None or want.goal != have.goal:
                self.bus.write_register(self._gripper, reg.GOAL_POSITION, want.goal)
            if have is None or not have.torque:
                self.bus.write_register(self._gripper, reg.TORQUE_ENABLE, 1)
        self._applied = want

    def _check_servos(self) -> None:
        models = self.bus.sync_read_register(reg.MODEL_NUMBER, self._ids)
        wrong = {i: m for i, m in models.items() if m != reg.MODEL_STS3215}
        if wrong:
            raise ServoMismatchError(
                f"leader servo(s) {wrong} (id: model) are not STS3215 "
                f"(model {reg.MODEL_STS3215}); is this an SO-101 leader?"
            )
        ticks = self.read()
        outside = self.calibration.outside(ticks, OPEN_TOLERANCE_TICKS)
        if outside:
            raise CalibrationError(
                f"leader joints {outside} sit outside their calibrated ranges "
                f"({ticks.tolist()} ticks): the calibration does not fit this arm; run "
                f"`teleop calibrate --serial-port {self.port} --out LEADER.json`"
            )

    def _release(self) -> None:
        """Torque off on every servo, checked by reading it back."""
        self.bus.sync_write_register(reg.TORQUE_ENABLE, dict.fromkeys(self._ids, 0))
        torque = self.bus.sync_read_register(reg.TORQUE_ENABLE, self._ids)
        on = [n for n, i in zip(self.calibration.names, self._ids, strict=True) if torque[i]]
        if on:
            raise TorqueOffError(f"leader joints {on} still report torque on")
        self._applied = OFF
        if self._goal_speed is not None:  # torque is off: restoring the limit moves nothing
            with contextlib.suppress(RobotIOError):
                self.bus.write_register(self._gripper, reg.TORQUE_LIMIT, FULL_TORQUE_LIMIT)
