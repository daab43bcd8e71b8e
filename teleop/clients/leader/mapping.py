"""Leader arm -> follower joint targets. Pure: servo ticks in, a joint vector out.

Both arms are SO-101-class and calibrated with ``teleop calibrate``: each joint's 0 rad
is that arm's middle pose, and the directions make a joint angle mean the same motion on
both arms. So a leader joint angle *is* the follower's target angle, and the mapping
goes through both calibrations in two places:

1. here, on the client, the leader's calibration turns leader ticks into leader rad (and
   the gripper's ticks into its opening in [0, 1], 0 closed);
2. on the server, the follower's ``So101Robot`` turns those rad into follower ticks with
   the follower's calibration.

The client therefore needs no follower calibration file: the follower's joint names and
limits come from ``welcome.robot``, and its ticks never leave the station. Targets are
clipped into the follower's limits, so a leader with a wider range than its follower
asks for the follower's end stop, not for a refusal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray
from robots.serial.calibration import RAD_PER_TICK, Calibration
from teleop.clients.leader.errors import LeaderConfigError


@dataclasses.dataclass(frozen=True, eq=False)
class LeaderMapping:
    """The leader's calibration, lined up with the follower's joints.

    Build it with :meth:`build`.

    Attributes:
        calibration: The leader arm's calibration (its servo ids and tick mapping).
        joint_names: The follower's joints, the gripper last: the order of every target.
        lower: The follower's lowest positions, [rad] (gripper 0).
        upper: The follower's highest positions, [rad] (gripper 1).
        order: For each follower joint, the index of the same joint in the calibration.
    """

    calibration: Calibration
    joint_names: tuple[str, ...]
    lower: FloatArray
    upper: FloatArray
    order: tuple[int, ...]

    @classmethod
    def build(
        cls,
        calibration: Calibration,
        follower_names: Sequence[str],
        lower: ArrayLike,
        upper: ArrayLike,
    ) -> LeaderMapping:
        """Line the leader's joints up with the follower's, by name.

        Args:
            calibration: The leader's calibration.
            follower_names: ``welcome.robot.joint_names``, the gripper last.
            lower: ``welcome.robot.limits.lower`` [rad; gripper 0].
            upper: ``welcome.robot.limits.upper`` [rad; gripper 1].

        Raises:
            LeaderConfigError: The joints differ, or the limits are not finite and ordered.
        """
        names = tuple(follower_names)
        leader = calibration.names
        if sorted(names) != sorted(leader) or names[-1] != leader[-1]:
            raise LeaderConfigError(
                f"the follower has joints {list(names)}, the leader's calibration "
                f"{list(leader)} (the gripper last in both): is the calibration for this "
                "kind of arm? Calibrate the leader with `teleop calibrate --out FILE`"
            )
        lo, hi = _vector(lower, len(names), "lower"), _vector(upper, len(names), "upper")
        if not np.all(lo <= hi):
            raise LeaderConfigError(f"follower limits are not ordered: {lo} > {hi}")
        order = tuple(leader.index(n) for n in names)
        return cls(calibration, names, lo, hi, order)

    @property
    def servo_ids(self) -> tuple[int, ...]:
        """The leader's servo ids, in the calibration's order (the order to read them)."""
        return self.calibration.servo_ids

    @property
    def gripper_span_rad(self) -> float:
        """The leader gripper's travel from closed to open, in [rad]."""
        grip = self.calibration.joints[-1]
        return (grip.range_max - grip.range_min) * RAD_PER_TICK

    def to_follower(self, ticks: Sequence[int] | ArrayLike) -> FloatArray:
        """The follower target for leader positions ``ticks`` (calibration order).

        Returns:
            Arm joints in [rad], then the gripper opening in [0, 1], in the follower's
            joint order and inside its limits.
        """
        q = self.calibration.to_q(np.asarray(ticks, dtype=np.int64))
        return np.clip(q[list(self.order)], self.lower, self.upper)

    def per_joint(self, rad: float) -> FloatArray:
        """A bound of ``rad`` [rad] expressed in each joint's unit, follower order.

        Arm joints are in rad already. The gripper target is an opening, so its entry is
        the fraction of the leader gripper's travel that ``rad`` of that travel makes: a
        0.8 rad rule means 0.8 rad of jaw motion on the gripper too.
        """
        bound = np.full(len(self.joint_names), float(rad))
        bound[-1] = float(rad) / self.gripper_span_rad
        return bound


def _vector(values: ArrayLike, n: int, what: str) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,) or not np.all(np.isfinite(v)):
        raise LeaderConfigError(f"follower limits.{what} must be {n} finite numbers, got {v}")
    return v
