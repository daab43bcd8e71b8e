"""Optional force feedback: a light push against the operator's squeeze. Pure: no I/O.

With ``teleop leader --feedback``, the leader's gripper servo (and only that servo) is
given a little torque while the follower grasps something, so the operator feels the
grasp. An STS3215 has no torque mode, so the push is made from its position loop:

- ``Torque_Limit`` caps the servo's effort, in 0.1 % of its stall torque. It is set in
  proportion to the follower's grasp force (``gain_per_n`` per N, after a ``deadband_n``)
  and never above ``max_limit`` (15 % by default, at most :data:`HARD_CAP`);
- the goal sits ``push_ticks`` toward *open* from where the leader's gripper was when the
  grasp began (the anchor). Squeezing further closed meets a gentle spring, capped by
  the limit; letting go lets the gripper come back to just past the anchor, no further,
  at ``Goal_Speed`` (slow);
- the push only ever resists closing: once the gripper is at or past its goal toward
  open (the operator is opening it), torque goes off, so the servo never pulls the hand
  closed. When the grasp ends, torque goes off and the anchor is forgotten.

The other five leader servos stay torque-off throughout.
"""

from __future__ import annotations

import dataclasses
import math

from robots.serial.calibration import JointCalibration
from teleop.clients.leader.errors import LeaderConfigError

HARD_CAP = 300
"""No setting may let the feedback exceed 30 % of the servo's stall torque."""


@dataclasses.dataclass(frozen=True)
class FeedbackConfig:
    """How hard the leader's gripper pushes back.

    Attributes:
        gain_per_n: Torque_Limit units (0.1 % of stall torque) per N of grasp force.
        max_limit: The cap, in the same units (150: 15 %, ~0.44 N·m on a 12 V STS3215).
        deadband_n: Grasp forces below this, in [N], give no feedback.
        push_ticks: How far toward open from the anchor the goal sits, [ticks]
            (40: ~3.5 degrees of the servo shaft).
        goal_speed_tps: Goal_Speed while pushing, [ticks/s] (300: ~26 degrees/s).
    """

    gain_per_n: float = 10.0
    max_limit: int = 150
    deadband_n: float = 0.5
    push_ticks: int = 40
    goal_speed_tps: int = 300

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gain_per_n) and self.gain_per_n > 0):
            raise LeaderConfigError(f"feedback gain_per_n must be > 0, got {self.gain_per_n}")
        if not 1 <= self.max_limit <= HARD_CAP:
            raise LeaderConfigError(
                f"feedback max_limit {self.max_limit} outside [1, {HARD_CAP}] (0.1 % units)"
            )
        if not (math.isfinite(self.deadband_n) and self.deadband_n >= 0):
            raise LeaderConfigError(f"feedback deadband_n must be >= 0, got {self.deadband_n}")
        if not 1 <= self.push_ticks <= 200 or not 1 <= self.goal_speed_tps <= 3000:
            raise LeaderConfigError(
                "feedback push_ticks must be in [1, 200] and goal_speed_tps in [1, 3000]"
            )


@dataclasses.dataclass(frozen=True)
class GripperPush:
    """What the leader's gripper servo should do this tick.

    Attributes:
        torque: Whether its torque is on.
        goal: Goal_Position [ticks] while on.
        limit: Torque_Limit [0.1 % of stall] while on.
    """

    torque: bool
    goal: int = 0
    limit: int = 0


OFF = GripperPush(False)


class GripperFeedback:
    """Turns the follower's grasp force into a :class:`GripperPush`, tick by tick.

    Args:
        config: The gains and caps.
        gripper: The leader gripper's calibration (its range, and which way opens).
    """

    def __init__(self, config: FeedbackConfig, gripper: JointCalibration) -> None:
        self.config = config
        self._range = (gripper.range_min, gripper.range_max)
        self._open_sign = 1 if gripper.direction > 0 else -1
        self._anchor: int | None = None

    def limit_for(self, grasp_force_n: float) -> int:
        """Torque_Limit [0.1 % of stall] for a grasp force [N]; 0 means no feedback."""
        c = self.config
        if not math.isfinite(grasp_force_n) or grasp_force_n < c.deadband_n:
            return 0
        return min(c.max_limit, max(1, round(c.gain_per_n * grasp_force_n)))

    def step(self, present_tick: int, grasp_force_n: float) -> GripperPush:
        """The push for the gripper at ``present_tick`` while the follower grasps with
        ``grasp_force_n`` [N]."""
        limit = self.limit_for(grasp_force_n)
        if limit == 0:
            self._anchor = None
            return OFF
        if self._anchor is None:
            self._anchor = present_tick
        lo, hi = self._range
        goal = min(hi, max(lo, self._anchor + self._open_sign * self.config.push_ticks))
        if (present_tick - goal) * self._open_sign >= 0:
            return OFF  # the hand is opening it: never pull it closed
        return GripperPush(True, goal, limit)

    def reset(self) -> None:
        """Forget the anchor (e.g. after the leader's bus was lost)."""
        self._anchor = None
