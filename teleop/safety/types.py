"""The safety filter's value types (configuration, commands, state, results) and e-stop.

Everything here is immutable and holds SI units (rad, rad/s, m/s, s; times in ns on the
server's ``time.monotonic_ns()`` clock). ``teleop.safety`` re-exports the public names;
import from there.

Exceptions (under ``teleop.errors.TeleopError``)::

    SafetyConfigError   a SafetyConfig value is out of range
    MeasurementError    the first tick's measured q is not a finite vector of spec.dof
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections import Counter
from collections.abc import Callable, Collection
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from teleop.errors import TeleopError
from teleop.safety.checks import FloatArray, Rejection, RejectReason


class SafetyConfigError(TeleopError, ValueError):
    """A ``SafetyConfig`` value is out of range; the message names the field and unit."""


_POSITIVE = {  # field: unit, for SafetyConfig's messages
    "decay_time_constant_s": "s",
    "max_jump_rad": "rad",
    "max_step_rad": "rad",
    "max_gripper_step": "opening per tick",
    "max_joint_velocity_rad_s": "rad/s",
    "max_gripper_velocity": "opening/s",
    "max_linear_speed_m_s": "m/s",
    "max_angular_speed_rad_s": "rad/s",
}
_NON_NEGATIVE = {"decay_zero_below": "m/s and rad/s", "joint_margin_rad": "rad"}


@dataclasses.dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety filter, with the reason for each default.

    Attributes:
        watchdog_timeout_ns: Hold once the newest command is older than this, [ns].
            150 ms: between MoveIt Servo's 0.1 s and UR's 0.2 s ceiling; rides out 2-4
            lost packets of a 30-60 Hz client.
        decay_time_constant_s: ee_velocity decay after the watchdog trips, [s]. 0.05 s:
            a 0.25 m/s motion glides about 12 mm further and is exactly zero ~0.3 s later.
        decay_zero_below: A decaying twist whose entries are all below this becomes
            exactly zero, [m/s] and [rad/s]. 1 mm/s.
        require_deadman_velocity: ee_velocity commands move only with ``deadman=True``
            (hold-to-move, as DROID and SpaceMouse teleop do).
        require_deadman_joints: joints commands move only with ``deadman=True``. Off: a
            leader arm is its own deadman (the watchdog stops it when it goes quiet).
        max_jump_rad: Refuse a joints target this far from its reference on any arm
            joint, [rad]. 0.5: below the 0.8 rad at which leader arms refuse to engage,
            10x their 0.05 rad/tick ease-in, ~30 rad/s between 60 Hz packets.
        max_step_rad: Largest arm-joint move per tick, [rad]. 0.03: DROID's 0.2 rad per
            15 Hz step (3 rad/s) at our slowest 100 Hz loop; binds only on late ticks,
            where it stops a lurch after a stall.
        max_gripper_step: Largest gripper move per tick, [opening units]. 0.05.
        max_joint_velocity_rad_s: Arm-joint speed cap (``spec.max_velocity`` if lower),
            [rad/s]. 1.5: the top of the 0.8-1.5 rad/s used in bimanual teleoperation.
        max_gripper_velocity: Gripper speed cap (the spec's if lower), [opening units/s].
            2.0: fully open to closed in 0.5 s.
        joint_margin_rad: Keep arm joints this far inside their limits, [rad]. 0.1: the
            low end of the usual 0.1-0.3 rad, so small arms keep their workspace.
        max_linear_speed_m_s: ee_velocity linear speed cap, [m/s]. 0.25: the reduced
            speed of ISO 10218 manual (T1) mode, for a person near the arm.
        max_angular_speed_rad_s: ee_velocity angular speed cap, [rad/s]. 1.5, as joints.
    """

    watchdog_timeout_ns: int = 150_000_000
    decay_time_constant_s: float = 0.05
    decay_zero_below: float = 1e-3
    require_deadman_velocity: bool = True
    require_deadman_joints: bool = False
    max_jump_rad: float = 0.5
    max_step_rad: float = 0.03
    max_gripper_step: float = 0.05
    max_joint_velocity_rad_s: float = 1.5
    max_gripper_velocity: float = 2.0
    joint_margin_rad: float = 0.1
    max_linear_speed_m_s: float = 0.25
    max_angular_speed_rad_s: float = 1.5

    def __post_init__(self) -> None:
        timeout = self.watchdog_timeout_ns
        if type(timeout) is not int or timeout <= 0:
            raise SafetyConfigError(
                f"SafetyConfig.watchdog_timeout_ns must be an int > 0 [ns], got {timeout!r}"
            )
        for name, unit in (_POSITIVE | _NON_NEGATIVE).items():
            _check_number(name, getattr(self, name), unit, allow_zero=name in _NON_NEGATIVE)
        for name in ("require_deadman_velocity", "require_deadman_joints"):
            if type(getattr(self, name)) is not bool:
                raise SafetyConfigError(f"SafetyConfig.{name} must be True or False")


def _check_number(name: str, value: object, unit: str, allow_zero: bool) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and (value > 0 or (allow_zero and value == 0)):
            return
    bound = ">= 0" if allow_zero else "> 0"
    raise SafetyConfigError(
        f"SafetyConfig.{name} must be a finite number {bound} [{unit}], got {value!r}"
    )


class Event(enum.Enum):
    """Something the filter did on one tick; the value names its counter."""

    REJECTED_NONFINITE = "rejected_nonfinite"
    REJECTED_SHAPE = "rejected_shape"
    STALE_COMMAND = "stale_commands"  # received before the last e-stop reset: ignored
    WATCHDOG_TRIP = "watchdog_holds"  # the tick the watchdog started holding
    WATCHDOG_TICK = "watchdog_hold_ticks"  # every tick it holds (or glides)
    DEADMAN_HOLD = "deadman_holds"  # every tick a released deadman stops motion
    JUMP_REJECTED = "jump_rejections"
    KINEMATICS_FAILURE = "kinematics_failures"
    TWIST_CLAMP = "twist_clamps"  # an ee_velocity command above the speed caps
    STEP_CLAMP = "step_clamps"
    VELOCITY_CLAMP = "velocity_clamps"
    LIMIT_CLAMP = "limit_clamps"
    ESTOP_TICK = "estop_ticks"


REJECT_EVENTS = {
    RejectReason.NONFINITE: Event.REJECTED_NONFINITE,
    RejectReason.SHAPE: Event.REJECTED_SHAPE,
    RejectReason.JUMP: Event.JUMP_REJECTED,
}


@dataclasses.dataclass(frozen=True)
class SafetyCounters:
    """How often each stage acted since the filter started (field = ``Event`` value)."""

    rejected_nonfinite: int = 0
    rejected_shape: int = 0
    stale_commands: int = 0
    watchdog_holds: int = 0
    watchdog_hold_ticks: int = 0
    deadman_holds: int = 0
    jump_rejections: int = 0
    kinematics_failures: int = 0
    twist_clamps: int = 0
    step_clamps: int = 0
    velocity_clamps: int = 0
    limit_clamps: int = 0
    estop_ticks: int = 0

    def add(self, events: Collection[Event]) -> SafetyCounters:
        """These counters plus one per event."""
        if not events:
            return self
        counts = Counter(e.value for e in events)
        return dataclasses.replace(self, **{k: getattr(self, k) + n for k, n in counts.items()})

    def as_dict(self) -> dict[str, int]:
        """The counters by name, for ``state.safety`` and episode metadata."""
        # Not dataclasses.asdict: it deep-copies every field, a cost the loop paid per tick.
        return dict(vars(self))


ToJointTarget = Callable[[FloatArray, FloatArray, FloatArray, float], ArrayLike]
"""``(q_arm_from [rad], linear [m/s] (3,), angular [rad/s] (3,), dt [s]) -> q_arm [rad]``,
e.g. ``robots.kinematics.Kinematics.velocity_step``."""


class MeasurementError(TeleopError, ValueError):
    """The measured ``q`` needed to start holding is not a finite vector of spec.dof."""


class Mode(enum.Enum):
    """The command mode, as on the wire."""

    JOINTS = "joints"
    EE_VELOCITY = "ee_velocity"


class HoldReason(enum.Enum):
    """Why the target did not follow the operator this tick (``NONE``: it followed)."""

    NONE = "none"
    NO_COMMAND = "no_command"  # none yet, or none since a refusal or an e-stop reset
    REJECTED = "rejected"  # this tick's command was refused
    WATCHDOG = "watchdog"
    DEADMAN = "deadman"
    KINEMATICS = "kinematics"  # to_joint_target raised or returned junk
    ESTOP = "estop"


@dataclasses.dataclass(frozen=True)
class ReceivedJoints:
    """A ``mode="joints"`` command, stamped on arrival; :func:`step` validates it.

    Attributes:
        seq: The client's sequence number (reported back as ``state.seq``).
        received_ns: Server receive time, [ns] on ``time.monotonic_ns()``; never the
            sender's clock.
        q: Arm joints [rad], then the gripper opening [0, 1]; untrusted wire data.
        deadman: The hold-to-move button; ``None`` (not sent) counts as released.
    """

    seq: int
    received_ns: int
    q: object
    deadman: object = None


@dataclasses.dataclass(frozen=True)
class ReceivedVelocity:
    """A ``mode="ee_velocity"`` command, stamped on arrival; :func:`step` validates it.

    Attributes:
        seq: The client's sequence number.
        received_ns: Server receive time, [ns] on ``time.monotonic_ns()``.
        linear: End-effector linear velocity (3,), base frame, [m/s].
        angular: End-effector angular velocity (3,), base frame, [rad/s].
        gripper: Gripper opening target in [0, 1].
        deadman: The hold-to-move button; ``None`` (not sent) counts as released.
    """

    seq: int
    received_ns: int
    linear: object
    angular: object
    gripper: object
    deadman: object = None


@dataclasses.dataclass(frozen=True, eq=False)
class AcceptedJoints:
    """A joints command that passed stage 1.

    Attributes:
        seq: The client's sequence number.
        received_ns: Server receive time, [ns].
        deadman: Whether the hold-to-move button was pressed.
        q: The full target (spec.dof,), arm [rad] then gripper [0, 1]; finite, read-only.
    """

    mode: ClassVar[Mode] = Mode.JOINTS
    seq: int
    received_ns: int
    deadman: bool
    q: FloatArray


@dataclasses.dataclass(frozen=True, eq=False)
class AcceptedVelocity:
    """An ee_velocity command that passed stage 1.

    Attributes:
        seq: The client's sequence number.
        received_ns: Server receive time, [ns].
        deadman: Whether the hold-to-move button was pressed.
        twist: ``[linear m/s (3), angular rad/s (3)]``, capped to the speed limits;
            finite, read-only.
        gripper: The gripper opening target (clamped into [0, 1] later, at stage 7).
    """

    mode: ClassVar[Mode] = Mode.EE_VELOCITY
    seq: int
    received_ns: int
    deadman: bool
    twist: FloatArray
    gripper: float


Accepted = AcceptedJoints | AcceptedVelocity


@dataclasses.dataclass(frozen=True, eq=False)
class FilterState:
    """Everything the filter remembers between ticks. Start with ``FilterState()``.

    Attributes:
        target: The last safe target (spec.dof,), read-only; None before the first tick.
        tick_ns: ``now_ns`` of the last tick, [ns].
        active: The command being followed; None before the first one and after a
            refusal, an e-stop or a reset.
        jump_ref: The last accepted joints command, the jump guard's reference while fresh.
        twist: The ee_velocity twist applied on the last tick, [m/s] and [rad/s] (6,).
        watchdog_tripped: Whether the watchdog held on the last tick.
        estop: Whether the e-stop is latched.
        reset_ns: Time of the last e-stop reset, [ns]; commands received earlier are ignored.
        applied_seq: ``seq`` of the last command the target followed (``state.seq``).
        counters: Running totals of every ``Event``.
    """

    target: FloatArray | None = None
    tick_ns: int | None = None
    active: Accepted | None = None
    jump_ref: AcceptedJoints | None = None
    twist: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(6))
    watchdog_tripped: bool = False
    estop: bool = False
    reset_ns: int | None = None
    applied_seq: int | None = None
    counters: SafetyCounters = dataclasses.field(default_factory=SafetyCounters)


@dataclasses.dataclass(frozen=True, eq=False)
class TickResult:
    """The outcome of one tick. Arrays are read-only.

    Attributes:
        target: The safe joint target to send (spec.dof,): arm [rad], gripper [0, 1].
        requested: What the newest accepted command asks for, same layout, before stages
            2-8 (``action.requested`` in recordings); the held target if there is none.
        state: The state to pass to the next tick.
        events: What the filter did this tick, in stage order.
        hold: Why the target did not follow the operator, or ``HoldReason.NONE``.
        rejection: This tick's refused command, for the client's ``error``; else None.
    """

    target: FloatArray
    requested: FloatArray
    state: FilterState
    events: tuple[Event, ...]
    hold: HoldReason
    rejection: Rejection | None = None


def trigger_estop(state: FilterState) -> FilterState:
    """Latch the e-stop: from the next tick on nothing moves until :func:`reset_estop`."""
    return dataclasses.replace(state, estop=True, active=None, jump_ref=None, twist=np.zeros(6))


def reset_estop(state: FilterState, now_ns: int) -> FilterState:
    """Unlatch the e-stop at ``now_ns`` [ns]; a no-op when it is not latched.

    The caller checks that the requester holds the lease. Nothing moves until a command
    *received after* ``now_ns`` arrives; anything older is ignored.
    """
    if not state.estop:
        return state
    return dataclasses.replace(
        state, estop=False, reset_ns=now_ns, active=None, jump_ref=None, twist=np.zeros(6)
    )
