"""Per-arm calibration: which servo drives each joint and how its ticks map to SI units.

The only place where servo ticks become radians (or the gripper's [0, 1] opening). One
JSON file per arm::

    {"format": "teleop-feetech-calibration", "version": 1,
     "joints": {"shoulder_pan": {"id": 1, "direction": 1, "homing_offset": 2048,
                                 "range_min": 750, "range_max": 3350}, ...}}

For each joint: ``id`` is the servo's bus id; ``direction`` is +1 when the joint angle
grows with the ticks and -1 when it shrinks (the drive mode); ``homing_offset`` is the
tick that means 0 rad; ``range_min``/``range_max`` bound the ticks the joint may reach.
The gripper is last: its opening is 0 at the closed end of its range and 1 at the
other; ``direction`` +1 means it opens toward higher ticks (closed at ``range_min``).

Ranges must not cross the 0/4095 wrap of the encoder: a servo asked to go from 4000 to
100 turns the long way round, through the arm's own stops.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from robots.base import FloatArray
from robots.serial.errors import CalibrationError
from robots.serial.registers import TICKS_PER_TURN

FORMAT = "teleop-feetech-calibration"
VERSION = 1
RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN
MIN_RANGE_TICKS = 20
"""A joint that moved less than this (~1.8 degrees) during calibration was not moved."""
IntArray = NDArray[np.int64]


def default_calibration_path(robot: str = "so101") -> Path:
    """Where a robot's calibration is kept unless told otherwise.

    ``$TELEOP_CALIBRATION_DIR/<robot>.json``, by default in ``~/.config/teleop/calibration``.
    """
    root = os.environ.get("TELEOP_CALIBRATION_DIR") or Path.home() / ".config/teleop/calibration"
    return Path(root) / f"{robot}.json"


@dataclasses.dataclass(frozen=True)
class JointCalibration:
    """One joint's servo and tick mapping (see the module docstring for the meaning)."""

    id: int
    direction: int
    homing_offset: int
    range_min: int
    range_max: int

    def check(self, name: str, gripper: bool) -> None:
        """Raise ``CalibrationError`` naming the joint and the fix if this is unusable."""
        if not 0 <= self.id <= 253:
            raise CalibrationError(f"joint '{name}': servo id {self.id} outside 0..253")
        if self.direction not in (1, -1):
            raise CalibrationError(
                f"joint '{name}': direction must be 1 or -1, got {self.direction}"
            )
        if not 0 <= self.range_min <= self.range_max < TICKS_PER_TURN:
            raise CalibrationError(
                f"joint '{name}': range [{self.range_min}, "
                f"{self.range_max}] must lie in 0..4095, min < max"
            )
        if self.range_max - self.range_min < MIN_RANGE_TICKS:
            raise CalibrationError(
                f"joint '{name}': range is only {self.range_max - self.range_min} ticks; "
                "move every joint through its full range while calibrating"
            )
        if not gripper and not self.range_min <= self.homing_offset <= self.range_max:
            raise CalibrationError(
                f"joint '{name}': homing offset {self.homing_offset} is outside its range "
                f"[{self.range_min}, {self.range_max}]"
            )


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A whole arm's calibration, joints in order with the gripper last.

    Attributes:
        names: Joint names, the gripper last.
        joints: One entry per name.
    """

    names: tuple[str, ...]
    joints: tuple[JointCalibration, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.joints) or len(self.names) < 2:
            raise CalibrationError("a calibration needs arm joints and a gripper, one entry each")
        for k, (name, joint) in enumerate(zip(self.names, self.joints, strict=True)):
            joint.check(name, gripper=k == len(self.names) - 1)
        ids = [j.id for j in self.joints]
        if len(set(ids)) != len(ids):
            raise CalibrationError(f"servo ids must differ between joints, got {ids}")

    @functools.cached_property
    def _dir(self) -> IntArray:
        return self._field("direction")

    @functools.cached_property
    def _home(self) -> IntArray:
        return self._field("homing_offset")

    @functools.cached_property
    def _min(self) -> IntArray:
        return self._field("range_min")

    @functools.cached_property
    def _max(self) -> IntArray:
        return self._field("range_max")

    def _field(self, attr: str) -> IntArray:
        return np.array([getattr(j, attr) for j in self.joints], dtype=np.int64)

    @property
    def servo_ids(self) -> tuple[int, ...]:
        return tuple(j.id for j in self.joints)

    def limits(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper joint limits: arm in [rad] from the ranges, gripper 0 and 1."""
        ends = np.stack([self.to_q(self._min), self.to_q(self._max)])
        lower, upper = ends.min(axis=0), ends.max(axis=0)
        lower[-1], upper[-1] = 0.0, 1.0
        return lower, upper

    def to_q(self, ticks: Sequence[int] | IntArray) -> FloatArray:
        """Positions: arm joints in [rad], then the gripper opening in [0, 1]."""
        t = np.asarray(ticks, dtype=np.float64)
        q = self._dir * (t - self._home) * RAD_PER_TICK
        span = float(self._max[-1] - self._min[-1])
        opened = (t[-1] - self._min[-1]) if self._dir[-1] > 0 else (self._max[-1] - t[-1])
        q[-1] = min(1.0, max(0.0, opened / span))
        return q

    def to_ticks(self, q: FloatArray) -> IntArray:
        """Goal ticks for positions in the :meth:`to_q` layout, kept inside the ranges."""
        t = self._home + self._dir * np.asarray(q, dtype=np.float64) / RAD_PER_TICK
        span = float(self._max[-1] - self._min[-1])
        opening = min(1.0, max(0.0, float(q[-1])))
        if self._dir[-1] > 0:
            t[-1] = self._min[-1] + opening * span
        else:
            t[-1] = self._max[-1] - opening * span
        return np.clip(np.rint(t), self._min, self._max).astype(np.int64)

    def to_velocity(self, ticks_per_s: Sequence[int] | IntArray) -> FloatArray:
        """Velocities: arm in [rad/s], gripper opening in [1/s]."""
        v = np.asarray(ticks_per_s, dtype=np.float64) * self._dir
        dq = v * RAD_PER_TICK
        dq[-1] = v[-1] / float(self._max[-1] - self._min[-1])
        return dq

    def outside(self, ticks: Sequence[int] | IntArray, tolerance: int) -> list[str]:
        """Names of joints whose ``ticks`` lie more than ``tolerance`` outside their range."""
        t = np.asarray(ticks, dtype=np.int64)
        bad = (t < self._min - tolerance) | (t > self._max + tolerance)
        return [n for n, b in zip(self.names, bad, strict=True) if b]

    def to_json(self) -> dict[str, object]:
        joints = {n: dataclasses.asdict(j) for n, j in zip(self.names, self.joints, strict=True)}
        return {"format": FORMAT, "version": VERSION, "joints": joints}

    def save(self, path: Path) -> None:
        """Write the file (atomically: a temporary file, then a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def from_json(
        cls, doc: object, names: Sequence[str], source: str = "calibration"
    ) -> Calibration:
        """Build from a parsed file, checking it names exactly ``names``.

        Raises:
            CalibrationError: Wrong format, version, joints or fields; the message names the fix.
        """
        fix = "run `teleop calibrate` to write a new one"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CalibrationError(
                f'{source} is not a teleop calibration file (no "format": "{FORMAT}"); {fix}'
            )
        if doc.get("version") != VERSION:
            raise CalibrationError(
                f"{source} has version {doc.get('version')!r}; this teleop "
                f"reads version {VERSION}; {fix}"
            )
        joints = doc.get("joints")
        if not isinstance(joints, dict) or list(joints) != list(names):
            found = list(joints) if isinstance(joints, dict) else joints
            raise CalibrationError(
                f"{source} has joints {found}, expected {list(names)} in "
                f"that order; is it for another arm? {fix}"
            )
        try:
            return cls(tuple(names), tuple(_joint(joints[name], name) for name in names))
        except CalibrationError as exc:
            raise CalibrationError(f"{source}: {exc}; {fix}") from exc

    @classmethod
    def load(cls, path: Path, names: Sequence[str]) -> Calibration:
        """Read and check a calibration file.

        Raises:
            CalibrationError: Missing, unreadable or wrong; the message names the fix.
        """
        if not path.exists():
            raise CalibrationError(
                f"no calibration file at {path}: calibrate this arm first with "
                f"`teleop calibrate --serial-port PORT --out {path}`, or pass calibration=PATH"
            )
        try:
            doc = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CalibrationError(
                f"cannot read calibration file {path}: {exc}; fix it or "
                "run `teleop calibrate` to write a new one"
            ) from exc
        return cls.from_json(doc, names, source=f"calibration file {path}")


def _joint(entry: object, name: str) -> JointCalibration:
    if not isinstance(entry, dict):
        raise CalibrationError(f"joint '{name}' must be an object, got {entry!r}")
    fields = [f.name for f in dataclasses.fields(JointCalibration)]
    missing = [f for f in fields if f not in entry]
    if missing:
        raise CalibrationError(f"joint '{name}' lacks {missing}")
    return JointCalibration(**{f: _int(entry[f], name, f) for f in fields})


def _int(value: object, joint: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalibrationError(f"joint '{joint}': {field} must be an integer, got {value!r}")
    return value
