"""``So101Robot``: an SO-101 follower arm (six Feetech STS3215 servos) as a ``Robot``.

One SYNC READ per ``read()`` (position, speed, load, current and the error byte of every
servo) and one SYNC WRITE per ``command()``.

Effort is an estimate: the servos measure no torque. ``Present_Load`` is the position
loop's drive effort in 0.1 % of full scale, signed; near stall it is proportional to the
output torque, so ``tau = load / 1000 * stall_torque_nm``, with the STS3215's stall
torque of 30 kg·cm = 2.94 N·m at 12 V (the 7.4 V version: 19.5 kg·cm = 1.91 N·m; pass
``stall_torque_nm``). While the joint moves freely the estimate reads high (part of the
effort goes into speed, not torque). ``Present_Current`` is kept in :attr:`currents_a`.

The gripper: ``grasp_force`` is the closing effort of the gripper servo over its jaw's
lever, ``load / 1000 * stall_torque_nm / gripper_lever_m`` in [N], counted only while it
pushes toward closed (0 when it pushes open or is idle). ``tau[-1]`` holds the same
value. This arm has no force sensor, so the net force of the world on the gripper is not
measured; ``ee_force`` reports the one contact force that is: the grasp, as a vector of
norm ``grasp_force`` along the jaw axis (the ``gripper_tcp`` frame's +y axis) in the base
frame, from forward kinematics of the measured joints. It is zero when nothing is held.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from robots.base import (
    CameraSpec,
    FloatArray,
    GripperSpec,
    JointSpec,
    Robot,
    RobotConfigError,
    RobotIOError,
    RobotSpec,
    RobotState,
)
from robots.serial import codec
from robots.serial import registers as reg
from robots.serial.bus import BusStats, FeetechBus, Reply
from robots.serial.calibration import RAD_PER_TICK, Calibration, default_calibration_path
from robots.serial.errors import (
    BusTimeoutError,
    CalibrationError,
    CorruptPacketError,
    RobotDisconnectedError,
    ServoMismatchError,
    TorqueOffError,
)

if TYPE_CHECKING:
    from robots.kinematics import Kinematics

log = logging.getLogger(__name__)
_T = TypeVar("_T")

JOINT_NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
URDF_PATH = Path(__file__).resolve().parents[2] / "sim_assets" / "so101" / "so101.urdf"
STALL_TORQUE_NM = 2.94
"""STS3215 at 12 V: 30 kg·cm."""
MAX_SPEED_RAD_S = 4.7
"""STS3215 no-load speed at 12 V: 0.222 s per 60 degrees."""
GRIPPER_LEVER_M = 0.1
"""Gripper servo axis to the middle of the jaw's contact area, [m] (approximate)."""
CONNECT_TOLERANCE_TICKS = 100
"""How far (~9 degrees) a joint may sit outside its calibrated range at connect."""
CURRENT_A_PER_UNIT = 0.0065
"""Present_Current unit: 6.5 mA."""


def so101_spec(
    calibration: Calibration | None,
    stall_torque_nm: float = STALL_TORQUE_NM,
    gripper_lever_m: float = GRIPPER_LEVER_M,
) -> RobotSpec:
    """The arm's spec: limits from the calibration (from the URDF while there is none)."""
    if calibration is not None:
        lower, upper = calibration.limits()
        span = calibration.joints[-1].range_max - calibration.joints[-1].range_min
        gripper_speed = MAX_SPEED_RAD_S / (span * RAD_PER_TICK)
    else:
        from robots.sim.arms import read_urdf_limits

        urdf = read_urdf_limits(URDF_PATH)
        lower = np.array([urdf[n][0] for n in JOINT_NAMES[:-1]] + [0.0])
        upper = np.array([urdf[n][1] for n in JOINT_NAMES[:-1]] + [1.0])
        gripper_speed = 2.0
    grasp_max_n = stall_torque_nm / gripper_lever_m
    joints = [
        JointSpec(name, float(lo), float(hi), MAX_SPEED_RAD_S, stall_torque_nm)
        for name, lo, hi in zip(JOINT_NAMES[:-1], lower[:-1], upper[:-1], strict=True)
    ]
    joints.append(JointSpec("gripper", 0.0, 1.0, gripper_speed, grasp_max_n))
    return RobotSpec(
        name="so101",
        joints=tuple(joints),
        gripper=GripperSpec(kind="jaw", max_opening_m=0.08, max_force_n=grasp_max_n),
        cameras=(),
        urdf_path=URDF_PATH,
        ee_link="gripper_tcp",
        urdf_joint_names=JOINT_NAMES[:-1],
    )


class So101Robot(Robot):
    """The SO-101 follower arm on a Feetech bus.

    Args:
        serial_port: The bus adapter's device, e.g. ``/dev/ttyACM0`` (or an emulator's).
        calibration: The arm's calibration file; ``default_calibration_path()`` if None.
        baudrate: Bus speed in [bit/s].
        retries: Extra attempts after a missing or corrupted reply.
        timeout_margin_s: Reply time allowed beyond the bytes' wire time, in [s].
        stall_torque_nm: Servo stall torque in [N·m]; scales the effort estimates.
        gripper_lever_m: Gripper servo axis to the jaw's contact, in [m].
        cameras: Must be empty: the bare arm has no cameras.

    Raises:
        RobotConfigError: No ``serial_port``, or ``cameras`` is not empty.
    """

    def __init__(
        self,
        serial_port: str | None = None,
        calibration: str | Path | None = None,
        *,
        baudrate: int = 1_000_000,
        retries: int = 2,
        timeout_margin_s: float = 0.020,
        stall_torque_nm: float = STALL_TORQUE_NM,
        gripper_lever_m: float = GRIPPER_LEVER_M,
        cameras: Sequence[str | CameraSpec] = (),
    ) -> None:
        if not serial_port:
            raise RobotConfigError(
                "robot 'so101' needs serial_port=, e.g. /dev/ttyACM0 or the path that "
                "`teleop emulate-bus` prints"
            )
        if cameras:
            raise RobotConfigError("the so101 arm has no cameras of its own; pass cameras=()")
        self.calibration_path = Path(calibration) if calibration else default_calibration_path()
        self._stall_nm = stall_torque_nm
        self._lever_m = gripper_lever_m
        self._calibration: Calibration | None = None
        try:
            self._calibration = Calibration.load(self.calibration_path, JOINT_NAMES)
        except CalibrationError:
            pass  # refused at connect(), with the fix named; URDF limits until then
        super().__init__(so101_spec(self._calibration, stall_torque_nm, gripper_lever_m))
        self.bus = FeetechBus(
            serial_port, baudrate, retries=retries, timeout_margin_s=timeout_margin_s
        )
        self.currents_a = np.zeros(len(JOINT_NAMES))
        """Each servo's Present_Current at the last read(), in [A]."""
        self._link_faults: list[str] = []
        self._servo_faults: tuple[str, ...] = ()
        self._kinematics: Kinematics | None = None

    @property
    def bus_stats(self) -> BusStats:
        """Bus counters (requests, retries, corrupt replies, timeouts, failures)."""
        return self.bus.stats

    def reconnect(self) -> None:
        """Close what is left of the link, then connect() again.

        A failed torque-off on the way is logged, not raised: use this after a
        ``RobotIOError`` to get the arm back once its port is back.
        """
        try:
            self.disconnect()
        except RobotIOError as exc:
            log.warning("reconnect: %s", exc)
        self.connect()

    def _connect(self) -> None:
        calibration = Calibration.load(self.calibration_path, JOINT_NAMES)
        if calibration != self._calibration:
            self._calibration = calibration
            self.spec = so101_spec(calibration, self._stall_nm, self._lever_m)
        self._kinematics = self._make_kinematics()
        self.bus.open()
        try:
            ticks = self._hold_present_position(calibration)
            self._enable_torque(calibration.servo_ids)
        except BaseException:
            if self.bus.is_open:  # best effort: never leave a half-connected arm holding
                with contextlib.suppress(RobotIOError):
                    self.bus.sync_write_register(
                        reg.TORQUE_ENABLE, dict.fromkeys(calibration.servo_ids, 0)
                    )
            self.bus.close()
            raise
        self._link_faults.clear()
        log.info(
            "%s: so101 connected, torque on, holding %s",
            self.bus.port,
            np.round(calibration.to_q(ticks), 3).tolist(),
        )

    def _hold_present_position(self, calibration: Calibration) -> list[int]:
        """Check the servos, read where they are, and make that their goal (before torque)."""
        ids = calibration.servo_ids
        try:
            models = self.bus.sync_read_register(reg.MODEL_NUMBER, ids)
        except BusTimeoutError as exc:
            names = [JOINT_NAMES[ids.index(i)] for i in exc.servo_ids if i in ids]
            raise BusTimeoutError(
                f"{exc}. Servos for {names} do not answer: check their power and cables, "
                f"and that {self.calibration_path} is this arm's calibration (ids {list(ids)})",
                exc.servo_ids,
            ) from exc
        wrong = {i: m for i, m in models.items() if m != reg.MODEL_STS3215}
        if wrong:
            raise ServoMismatchError(
                f"servo(s) {wrong} (id: model) are not STS3215 "
                f"(model {reg.MODEL_STS3215}); is this an SO-101?"
            )
        present = self.bus.sync_read_register(reg.PRESENT_POSITION, ids)
        ticks = [present[i] for i in ids]
        outside = calibration.outside(ticks, CONNECT_TOLERANCE_TICKS)
        if outside:
            raise CalibrationError(
                f"joints {outside} sit outside their calibrated ranges ({ticks} ticks): "
                f"{self.calibration_path} does not fit this arm; run `teleop calibrate "
                f"--serial-port {self.bus.port} --out {self.calibration_path}`"
            )
        self.bus.sync_write_register(reg.GOAL_POSITION, dict(zip(ids, ticks, strict=True)))
        return ticks

    def _enable_torque(self, ids: Sequence[int]) -> None:
        """Torque on, read back (a sync write has no reply to tell that it arrived)."""
        self.bus.sync_write_register(reg.TORQUE_ENABLE, dict.fromkeys(ids, 1))
        torque = self.bus.sync_read_register(reg.TORQUE_ENABLE, ids)
        off = [JOINT_NAMES[k] for k, i in enumerate(ids) if not torque[i]]
        if off:
            raise RobotIOError(f"torque did not come on for {off}; check the servos' power")

    def _make_kinematics(self) -> Kinematics:
        from robots.kinematics import Kinematics

        if self._kinematics is not None:
            self._kinematics.close()
        return Kinematics.from_spec(self.spec)

    def _disconnect(self) -> None:
        if self._kinematics is not None:
            self._kinematics.close()
            self._kinematics = None
        if not self.bus.is_open:
            return
        ids = self._require_calibration().servo_ids
        try:
            self.bus.sync_write_register(reg.TORQUE_ENABLE, dict.fromkeys(ids, 0))
            torque = self.bus.sync_read_register(reg.TORQUE_ENABLE, ids)
            problem = [JOINT_NAMES[k] for k, i in enumerate(ids) if torque[i]]
            reason = f"servos {problem} still report torque on"
        except RobotIOError as exc:
            problem, reason = list(JOINT_NAMES), str(exc)
        finally:
            self.bus.close()
        if problem:
            log.error(
                "%s: could not disable torque: %s. The servos keep holding their last "
                "goal (Feetech servos have no watchdog); switch the arm's power off",
                self.bus.port,
                reason,
            )
            raise TorqueOffError(
                f"could not disable torque on {self.bus.port}: {reason}; "
                "the arm may still hold its pose: switch its power off"
            )
        log.info("%s: torque off, port closed", self.bus.port)

    def _read(self) -> RobotState:
        calibration = self._require_calibration()
        ids = calibration.servo_ids
        t0 = time.monotonic_ns()
        replies = self._bus_call(
            lambda: self.bus.sync_read(reg.FEEDBACK_START, reg.FEEDBACK_LENGTH, ids)
        )
        t_ns = (t0 + time.monotonic_ns()) // 2  # the servos sampled while we waited
        fields = np.array([_feedback(replies[i]) for i in ids])
        ticks, speed, load, current = (fields[:, k] for k in range(4))
        self.currents_a = current * CURRENT_A_PER_UNIT
        q = calibration.to_q(ticks)
        direction = np.array([j.direction for j in calibration.joints])
        tau = direction * load / 1000.0 * self._stall_nm
        grasp = max(0.0, -tau[-1]) / self._lever_m  # closing pushes toward the closed end
        tau[-1] = grasp
        return RobotState(
            t_ns=t_ns,
            q=q,
            dq=calibration.to_velocity(speed),
            tau=tau,
            ee_force=self._grasp_vector(q, grasp),
            grasp_force=grasp,
            faults=self._faults([replies[i].error for i in ids]),
        )

    def _send(self, q: FloatArray) -> None:
        calibration = self._require_calibration()
        goals = dict(zip(calibration.servo_ids, calibration.to_ticks(q).tolist(), strict=True))
        self._bus_call(lambda: self.bus.sync_write_register(reg.GOAL_POSITION, goals))

    def _bus_call(self, call: Callable[[], _T]) -> _T:
        """Run one bus request; note its failure for the next state's faults."""
        try:
            return call()
        except RobotDisconnectedError as exc:
            self._lost(exc)
            raise
        except BusTimeoutError as exc:
            ids = self._require_calibration().servo_ids
            self._link_faults += [
                f"no_reply:{JOINT_NAMES[ids.index(i)]}" for i in exc.servo_ids if i in ids
            ] or ["no_reply"]
            raise
        except CorruptPacketError:
            self._link_faults.append("corrupt_reply")
            raise

    def _lost(self, exc: RobotDisconnectedError) -> None:
        """The port is gone: close our side, so that connect() can open it again."""
        self.bus.close()
        self._connected = False
        log.error("so101 disconnected: %s", exc)

    def _faults(self, errors: Sequence[int]) -> tuple[str, ...]:
        servo = tuple(
            f"{name}:{joint}"
            for joint, error in zip(JOINT_NAMES, errors, strict=True)
            for name in reg.error_names(error)
        )
        if servo != self._servo_faults:
            for fault in sorted(set(servo) - set(self._servo_faults)):
                log.warning("%s: servo fault %s", self.bus.port, fault)
            for fault in sorted(set(self._servo_faults) - set(servo)):
                log.info("%s: servo fault %s cleared", self.bus.port, fault)
            self._servo_faults = servo
        link, self._link_faults = tuple(self._link_faults), []
        return servo + link

    def _grasp_vector(self, q: FloatArray, grasp_n: float) -> FloatArray:
        if grasp_n <= 0.0 or self._kinematics is None:
            return np.zeros(3)
        x, y, z, w = self._kinematics.fk(q[:-1])[1]
        jaw_axis = np.array([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)])
        return grasp_n * jaw_axis

    def _require_calibration(self) -> Calibration:
        if self._calibration is None:
            raise CalibrationError(f"no usable calibration at {self.calibration_path}")
        return self._calibration


def _feedback(reply: Reply) -> tuple[int, int, int, int]:
    """(position [ticks], speed [ticks/s], load [0.1 %], current [6.5 mA]) of one servo."""
    data, start = reply.data, reg.FEEDBACK_START
    return (
        codec.decode_register(reg.PRESENT_POSITION, data, start),
        codec.decode_register(reg.PRESENT_SPEED, data, start),
        codec.decode_register(reg.PRESENT_LOAD, data, start),
        abs(codec.decode_register(reg.PRESENT_CURRENT, data, start)),
    )
