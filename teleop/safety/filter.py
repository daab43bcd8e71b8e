"""The filter's eight stages composed: each tick, the newest command becomes a safe target.

Pure code: no I/O, no clock reads (``now_ns`` is passed in, on the server's
``time.monotonic_ns()`` clock), inputs never mutated. The control loop calls :func:`step`
on *every* tick with the newest command or ``None``. The stages, in order:

1. reject    NaN, ±inf, ints beyond float64, wrong shape or type: refused, the arm holds
2. watchdog  newest command older than ``watchdog_timeout_ns`` by *receive* time: joints
             mode holds; ee_velocity decays to exactly zero (the arm glides to a stop)
3. deadman   a released hold-to-move button means no motion (ee_velocity by default)
4. jump      a new joints target too far from its reference is refused, the arm holds
5. step      each joint moves at most ``max_step_rad`` per tick
6. velocity  and at most ``min(cap, spec.max_velocity) * dt`` (dt: time since last tick)
7. limits    and stays inside ``[lower + margin, upper - margin]``
8. e-stop    while latched the target is the held one; only :func:`reset_estop` unlatches

*Holding* keeps the previous safe target (the measured ``q`` on the first tick), never
a fresh reading each tick: a position-controlled arm told to stay where it measures
itself sags. ee_velocity commands integrate from the previous target for that reason.
The jump guard compares a new joints command with the last accepted one while that is
fresh (a stream), else with the target (engaging): comparing a stream with the target
would lock out a fast leader arm whose follower lags at the velocity cap. An arm that
starts outside the margin band eases into it at the rate limits, never jerked.
Types live in :mod:`.types` and arithmetic in :mod:`.checks`; ``teleop.safety`` re-exports
the public names.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from numpy.typing import ArrayLike

from robots.base import RobotError, RobotSpec
from teleop.safety import checks
from teleop.safety.checks import FloatArray, Rejection, RejectReason
from teleop.safety.types import (
    REJECT_EVENTS,
    Accepted,
    AcceptedJoints,
    AcceptedVelocity,
    Event,
    FilterState,
    HoldReason,
    MeasurementError,
    Mode,
    ReceivedJoints,
    ReceivedVelocity,
    SafetyConfig,
    TickResult,
    ToJointTarget,
)

logger = logging.getLogger(__name__)


_NO_TWIST = np.zeros(6)
_NO_TWIST.setflags(write=False)


# --- one tick -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class _Limits:
    spec: RobotSpec
    cfg: SafetyConfig
    max_step: FloatArray  # per tick, (dof,)
    max_velocity: FloatArray  # per second, (dof,)
    lo: FloatArray
    hi: FloatArray


@dataclasses.dataclass(eq=False)
class _Tick:
    """One tick's inputs, plus what happened so far."""

    now_ns: int
    dt_s: float
    hold: FloatArray  # the previous safe target; the measured q on the first tick
    spec: RobotSpec
    cfg: SafetyConfig
    events: list[Event] = dataclasses.field(default_factory=list)
    rejection: Rejection | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class _Intent:
    """Where the operator wants to go, after stages 1-4: a hold, a q, or a twist."""

    reason: HoldReason
    q: FloatArray | None = None
    twist: FloatArray | None = None
    gripper: float | None = None  # with a twist; None holds the gripper


def step(
    state: FilterState,
    command: ReceivedJoints | ReceivedVelocity | None,
    now_ns: int,
    q_measured: ArrayLike,
    spec: RobotSpec,
    cfg: SafetyConfig,
    to_joint_target: ToJointTarget,
) -> TickResult:
    """Run the eight stages for one control tick.

    Args:
        state: The previous tick's ``TickResult.state`` (``FilterState()`` at start).
        command: The newest command from the mailbox, or None. Pass each one once.
        now_ns: This tick's time, [ns] on the clock that stamps ``received_ns``.
        q_measured: The measured joint positions; used only on the first tick.
        spec: The robot's limits.
        cfg: The filter's limits.
        to_joint_target: Turns an ee_velocity twist into arm joint targets. If it raises
            ``RobotError``, ``ArithmeticError`` or ``ValueError``, or returns junk, the
            arm holds for the tick and ``kinematics_failures`` counts it.

    Raises:
        MeasurementError: First tick only: ``q_measured`` is not finite or not spec.dof.
    """
    hold = _start(state, q_measured, spec)
    tick = _Tick(now_ns, _elapsed_s(state.tick_ns, now_ns), hold, spec, cfg)
    new = _reject(state, command, tick)
    active = new if new is not None else None if tick.rejection else state.active
    intent, tripped = _watchdog(state, active, tick)
    intent = _deadman(intent, active, tick)
    if new is not None and _jump_refused(new, state, tick):
        active, intent = None, _Intent(HoldReason.REJECTED)
    desired, intent = _resolve(intent, tick, to_joint_target)
    following = intent.reason is HoldReason.NONE
    requested = desired if following else _ask(active, tick, to_joint_target)
    target, intent = _estop(state, _rate_and_limits(desired, tick), intent, tick)
    target = _readonly(target)
    after = _next_state(state, tick, target, intent, active, new, tripped)
    events = tuple(tick.events)
    return TickResult(target, _readonly(requested), after, events, intent.reason, tick.rejection)


def _next_state(
    state: FilterState,
    tick: _Tick,
    target: FloatArray,
    intent: _Intent,
    active: Accepted | None,
    new: Accepted | None,
    watchdog_tripped: bool,
) -> FilterState:
    admitted = new is not None and active is new
    following = intent.reason is HoldReason.NONE and active is not None
    return dataclasses.replace(
        state,
        target=target,
        tick_ns=tick.now_ns,
        active=active,
        jump_ref=_jump_ref(new) if admitted else state.jump_ref,
        twist=_NO_TWIST if intent.twist is None else intent.twist,
        watchdog_tripped=watchdog_tripped,
        applied_seq=active.seq if following and active is not None else state.applied_seq,
        counters=state.counters.add(tick.events),
    )


def _elapsed_s(last_ns: int | None, now_ns: int) -> float:
    return 0.0 if last_ns is None else max(now_ns - last_ns, 0) * 1e-9


def _start(state: FilterState, q_measured: ArrayLike, spec: RobotSpec) -> FloatArray:
    if state.target is not None:
        return state.target
    q = checks.as_finite_array(q_measured, (spec.dof,), "measured q", spec.joint_names)
    if isinstance(q, Rejection):
        raise MeasurementError(f"cannot start holding: {q.message}; read the robot again")
    return _readonly(np.clip(q, spec.lower, spec.upper))


# Stage 1: reject.


def _reject(
    state: FilterState, command: ReceivedJoints | ReceivedVelocity | None, tick: _Tick
) -> Accepted | None:
    if command is None:
        return None
    if state.reset_ns is not None and command.received_ns <= state.reset_ns:
        tick.events.append(Event.STALE_COMMAND)
        return None
    accepted = _validate(command, tick)
    if isinstance(accepted, Rejection):
        tick.rejection = accepted
        tick.events.append(REJECT_EVENTS[accepted.reason])
        return None
    return accepted


def _validate(command: ReceivedJoints | ReceivedVelocity, tick: _Tick) -> Accepted | Rejection:
    deadman = command.deadman
    if deadman is not None and not isinstance(deadman, bool | np.bool_):
        kind = type(deadman).__name__
        return Rejection(RejectReason.SHAPE, f"deadman must be true or false, not {kind}")
    if isinstance(command, ReceivedVelocity):
        return _validate_velocity(command, bool(deadman), tick)
    q = checks.as_finite_array(command.q, (tick.spec.dof,), "command.q", tick.spec.joint_names)
    if isinstance(q, Rejection):
        return q
    return AcceptedJoints(command.seq, command.received_ns, bool(deadman), _readonly(q))


def _validate_velocity(
    command: ReceivedVelocity, deadman: bool, tick: _Tick
) -> AcceptedVelocity | Rejection:
    linear = checks.as_finite_array(command.linear, (3,), "command.linear")
    if isinstance(linear, Rejection):
        return linear
    angular = checks.as_finite_array(command.angular, (3,), "command.angular")
    if isinstance(angular, Rejection):
        return angular
    gripper = checks.as_finite_array(command.gripper, (), "command.gripper")
    if isinstance(gripper, Rejection):
        return gripper
    linear, lin_capped = checks.cap_norm(linear, tick.cfg.max_linear_speed_m_s)
    angular, ang_capped = checks.cap_norm(angular, tick.cfg.max_angular_speed_rad_s)
    if lin_capped or ang_capped:
        tick.events.append(Event.TWIST_CLAMP)
    twist = _readonly(np.concatenate([linear, angular]))
    return AcceptedVelocity(command.seq, command.received_ns, deadman, twist, float(gripper))


# Stages 2-4: watchdog, deadman, jump guard.


def _watchdog(state: FilterState, active: Accepted | None, tick: _Tick) -> tuple[_Intent, bool]:
    if active is None:
        reason = HoldReason.REJECTED if tick.rejection else HoldReason.NO_COMMAND
        return _Intent(reason), False
    if not checks.is_stale(active.received_ns, tick.now_ns, tick.cfg.watchdog_timeout_ns):
        return _follow(active), False
    if not state.watchdog_tripped:
        tick.events.append(Event.WATCHDOG_TRIP)
    tick.events.append(Event.WATCHDOG_TICK)
    if active.mode is Mode.JOINTS:
        return _Intent(HoldReason.WATCHDOG), True
    cfg = tick.cfg
    glide = checks.decay(state.twist, tick.dt_s, cfg.decay_time_constant_s, cfg.decay_zero_below)
    return _Intent(HoldReason.WATCHDOG, twist=_readonly(glide)), True


def _follow(active: Accepted) -> _Intent:
    if isinstance(active, AcceptedJoints):
        return _Intent(HoldReason.NONE, q=active.q)
    return _Intent(HoldReason.NONE, twist=active.twist, gripper=active.gripper)


def _deadman(intent: _Intent, active: Accepted | None, tick: _Tick) -> _Intent:
    moving = intent.q is not None or intent.twist is not None
    if active is None or active.deadman or not moving:
        return intent
    joints = active.mode is Mode.JOINTS
    if not (tick.cfg.require_deadman_joints if joints else tick.cfg.require_deadman_velocity):
        return intent
    tick.events.append(Event.DEADMAN_HOLD)
    return _Intent(HoldReason.DEADMAN)


def _jump_refused(new: Accepted, state: FilterState, tick: _Tick) -> bool:
    if not isinstance(new, AcceptedJoints):
        return False
    ref = state.jump_ref
    fresh = ref is not None and not checks.is_stale(
        ref.received_ns, tick.now_ns, tick.cfg.watchdog_timeout_ns
    )
    q_ref = ref.q if fresh and ref is not None else tick.hold
    i = checks.first_jump(new.q[:-1], q_ref[:-1], tick.cfg.max_jump_rad)
    if i is None:
        return False
    message = (
        f"joint '{tick.spec.joints[i].name}' target {new.q[i]:.4g} rad is more than "
        f"{tick.cfg.max_jump_rad} rad from {q_ref[i]:.3f} rad; ease in from the arm's pose"
    )
    tick.rejection = Rejection(RejectReason.JUMP, message)
    tick.events.append(Event.JUMP_REJECTED)
    return True


def _jump_ref(new: Accepted | None) -> AcceptedJoints | None:
    return new if isinstance(new, AcceptedJoints) else None


# From intent to a joint target.


def _resolve(intent: _Intent, tick: _Tick, fn: ToJointTarget) -> tuple[FloatArray, _Intent]:
    if intent.q is not None:
        return intent.q, intent
    if intent.twist is None:
        return tick.hold, intent
    arm = _integrate(intent.twist, tick, fn)
    if arm is None:
        tick.events.append(Event.KINEMATICS_FAILURE)
        return tick.hold, _Intent(HoldReason.KINEMATICS)
    gripper = tick.hold[-1] if intent.gripper is None else intent.gripper
    return np.append(arm, gripper), intent


def _ask(active: Accepted | None, tick: _Tick, fn: ToJointTarget) -> FloatArray:
    """What ``active`` asks for this tick, before stages 2-8."""
    if active is None:
        return tick.hold
    if isinstance(active, AcceptedJoints):
        return active.q
    arm = _integrate(active.twist, tick, fn)
    return tick.hold if arm is None else np.append(arm, active.gripper)


def _integrate(twist: FloatArray, tick: _Tick, fn: ToJointTarget) -> FloatArray | None:
    q_from = tick.hold[:-1].copy()
    if not twist.any():
        return q_from
    try:
        out = fn(q_from, twist[:3].copy(), twist[3:].copy(), tick.dt_s)
    except (RobotError, ArithmeticError, ValueError) as exc:
        logger.debug("to_joint_target failed, holding: %s", exc)
        return None
    arm = checks.as_finite_array(out, q_from.shape, "to_joint_target()")
    return None if isinstance(arm, Rejection) else arm


# Stages 5-8: step, velocity, limits, e-stop.


def _rate_and_limits(desired: FloatArray, tick: _Tick) -> FloatArray:
    lim = _limits(tick.spec, tick.cfg)
    prev = tick.hold
    out, stepped = checks.clamp_step(prev, desired, lim.max_step)
    out, capped = checks.cap_velocity(prev, out, lim.max_velocity, tick.dt_s)
    out, limited = checks.clamp_limits(prev, out, lim.lo, lim.hi)
    for hit, event in (
        (stepped, Event.STEP_CLAMP),
        (capped, Event.VELOCITY_CLAMP),
        (limited, Event.LIMIT_CLAMP),
    ):
        if hit:
            tick.events.append(event)
    return out


_limits_cache: dict[tuple[int, int], _Limits] = {}


def _limits(spec: RobotSpec, cfg: SafetyConfig) -> _Limits:
    # Looked up by identity: hashing the spec and config on every tick cost more than the
    # clamps themselves. The entry keeps both alive, so their ids cannot be reused.
    cached = _limits_cache.get((id(spec), id(cfg)))
    if cached is not None and cached.spec is spec and cached.cfg is cfg:
        return cached
    if len(_limits_cache) >= 16:
        _limits_cache.clear()
    limits = _limits_cache[id(spec), id(cfg)] = _compute_limits(spec, cfg)
    return limits


def _compute_limits(spec: RobotSpec, cfg: SafetyConfig) -> _Limits:
    arm = spec.dof - 1
    max_step = np.array([cfg.max_step_rad] * arm + [cfg.max_gripper_step])
    caps = np.array([cfg.max_joint_velocity_rad_s] * arm + [cfg.max_gripper_velocity])
    margin = np.array([cfg.joint_margin_rad] * arm + [0.0])
    lo, hi = checks.limit_band(spec.lower, spec.upper, margin)
    parts = (max_step, np.minimum(caps, spec.max_velocity), lo, hi)
    return _Limits(spec, cfg, *(_readonly(p) for p in parts))


def _estop(
    state: FilterState, target: FloatArray, intent: _Intent, tick: _Tick
) -> tuple[FloatArray, _Intent]:
    if not state.estop:
        return target, intent
    tick.events.append(Event.ESTOP_TICK)
    return tick.hold, _Intent(HoldReason.ESTOP)


def _readonly(array: FloatArray) -> FloatArray:
    array.setflags(write=False)
    return array
