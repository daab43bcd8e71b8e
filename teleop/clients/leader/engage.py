"""When the leader may drive the follower, and how it takes over. Pure: no I/O, no clock.

A leader arm is a position source the operator holds; the follower may be anywhere when
the two meet (at start-up, after an e-stop reset, after the server's watchdog held the
arm, after a reconnect). Taking over follows the rule trusted systems use:

1. **compare**: engage only when the two agree within ``max_mismatch`` on every joint
   (0.8 rad). Otherwise nothing is sent, and :class:`Mismatch` names the joint that is
   furthest off and by how much, so the operator can move the leader toward the follower;
2. **ease in**: the target starts at the follower's measured position and moves toward
   the leader by at most ``max_step`` per tick on every joint (0.05 rad), chasing the
   leader while it moves, until the two coincide;
3. **follow**: the target is the leader's position, tick by tick.

Anything that breaks the chain (:meth:`Engager.disengage`) sends the engager back to
step 1, with no memory of the old target, so no stale target is ever sent.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray
from teleop.clients.leader.errors import LeaderConfigError

MAX_MISMATCH_RAD = 0.8
"""Refuse to engage above this difference on any joint, [rad]."""
EASE_STEP_RAD = 0.05
"""Largest change of the target per tick while easing in, [rad]."""
_ROUNDING = 1e-9
"""Float rounding allowed on the last step, [rad]: 0.7 rad is 14 steps of 0.05, not 15."""


class Phase(enum.Enum):
    """Where the leader stands with the follower."""

    WAITING = "waiting"  # nothing to compare with, or told to stop: nothing is sent
    MISMATCH = "mismatch"  # compared, too far apart: nothing is sent
    EASING = "easing"  # the target moves from the follower toward the leader
    FOLLOWING = "following"  # the target is the leader


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """The joint that keeps the leader from engaging.

    Attributes:
        joint: Its name.
        leader: The leader's position, [rad] (the gripper: opening in [0, 1]).
        follower: The follower's position, same unit.
        limit: The largest difference that engages, same unit.
        gripper: Whether this is the gripper (an opening, not an angle).
    """

    joint: str
    leader: float
    follower: float
    limit: float
    gripper: bool = False

    @property
    def off(self) -> float:
        """How far apart the two are, in the joint's unit."""
        return abs(self.leader - self.follower)

    def describe(self) -> str:
        """One line for the operator: which joint, how far, and what to do."""
        unit = "of its opening" if self.gripper else "rad"
        return (
            f"{self.joint} is {self.off:.2f} {unit} off (leader {self.leader:+.2f}, follower "
            f"{self.follower:+.2f}; engages within {self.limit:.2f}): move the leader's "
            f"{self.joint} toward the follower"
        )


@dataclasses.dataclass(frozen=True)
class Decision:
    """One tick's outcome.

    Attributes:
        phase: The phase after this tick.
        target: The joint target to send this tick, or None: send nothing.
        mismatch: Why the leader did not engage (with ``Phase.MISMATCH``).
    """

    phase: Phase
    target: FloatArray | None = None
    mismatch: Mismatch | None = None


class Engager:
    """Compares, eases in, then follows; see the module docstring.

    Args:
        joint_names: The follower's joints, the gripper last.
        max_mismatch: Per joint, the largest difference that engages (rad; the gripper
            in opening units).
        max_step: Per joint, the largest change of the target per tick while easing in.

    Raises:
        LeaderConfigError: A bound is not positive and finite, or has the wrong length.
    """

    def __init__(
        self, joint_names: Sequence[str], max_mismatch: ArrayLike, max_step: ArrayLike
    ) -> None:
        self.joint_names = tuple(joint_names)
        self.max_mismatch = _bound(max_mismatch, len(self.joint_names), "max_mismatch")
        self.max_step = _bound(max_step, len(self.joint_names), "max_step")
        self._phase = Phase.WAITING
        self._target: FloatArray | None = None

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def engaged(self) -> bool:
        """Whether targets are being sent (easing in or following)."""
        return self._phase in (Phase.EASING, Phase.FOLLOWING)

    def disengage(self) -> None:
        """Stop, and forget the target: the next :meth:`step` compares afresh."""
        self._phase = Phase.WAITING
        self._target = None

    def step(self, leader_q: ArrayLike, follower_q: ArrayLike | None) -> Decision:
        """One tick.

        Args:
            leader_q: The leader's position as a follower target (follower order).
            follower_q: The follower's measured position (``state.q``); it is used only
                to compare and to start easing in. None (no state yet, or the e-stop is
                latched): stop, and compare afresh once it is given again.

        Returns:
            What to send this tick, if anything.
        """
        if follower_q is None:
            self.disengage()
            return Decision(Phase.WAITING)
        leader = np.asarray(leader_q, dtype=np.float64)
        if self._target is None:
            follower = np.asarray(follower_q, dtype=np.float64)
            mismatch = self._mismatch(leader, follower)
            if mismatch is not None:
                self._phase = Phase.MISMATCH
                return Decision(Phase.MISMATCH, mismatch=mismatch)
            self._target = follower
        if self._phase is Phase.FOLLOWING:
            self._target = leader.copy()
        else:
            self._target = _toward(self._target, leader, self.max_step)
            done = np.array_equal(self._target, leader)
            self._phase = Phase.FOLLOWING if done else Phase.EASING
        return Decision(self._phase, self._target.copy())

    def _mismatch(self, leader: FloatArray, follower: FloatArray) -> Mismatch | None:
        """The joint furthest off relative to its bound, if any is beyond it."""
        ratio = np.abs(leader - follower) / self.max_mismatch
        ratio = np.where(np.isfinite(ratio), ratio, np.inf)  # NaN never engages
        i = int(np.argmax(ratio))
        if ratio[i] <= 1.0:
            return None
        last = len(self.joint_names) - 1
        return Mismatch(
            self.joint_names[i],
            float(leader[i]),
            float(follower[i]),
            float(self.max_mismatch[i]),
            gripper=i == last,
        )


def _toward(current: FloatArray, goal: FloatArray, max_step: FloatArray) -> FloatArray:
    """``current`` moved toward ``goal`` by at most ``max_step`` per entry; ``goal`` exactly
    when every entry is within reach."""
    delta = goal - current
    if np.all(np.abs(delta) <= max_step + _ROUNDING):
        return goal.copy()
    return current + np.clip(delta, -max_step, max_step)


def _bound(values: ArrayLike, n: int, what: str) -> FloatArray:
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (n,) or not np.all(np.isfinite(v) & (v > 0)):
        raise LeaderConfigError(f"{what} must be {n} finite numbers > 0, got {v}")
    return v
