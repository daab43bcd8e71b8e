"""Tests for the safety filter: each stage alone, then ``step`` composed, then properties."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robots.base import GripperSpec, JointSpec, RobotError, RobotSpec
from teleop.safety import (
    Event,
    FilterState,
    HoldReason,
    MeasurementError,
    Mode,
    ReceivedJoints,
    ReceivedVelocity,
    Rejection,
    RejectReason,
    SafetyConfig,
    SafetyConfigError,
    SafetyCounters,
    TickResult,
    checks,
    reset_estop,
    step,
    trigger_estop,
)

MS = 1_000_000  # [ns]

# A real spec: "lift" is slower than the 1.5 rad/s cap, "tiny" is narrower than 2 margins.
SPEC = RobotSpec(
    name="test_arm",
    joints=(
        JointSpec("pan", -1.5, 1.5, 4.0, 3.0),
        JointSpec("lift", -1.0, 1.0, 1.0, 3.0),
        JointSpec("tiny", 0.0, 0.15, 4.0, 3.0),
        JointSpec("gripper", 0.0, 1.0, 2.0, 30.0),
    ),
    gripper=GripperSpec("parallel", 0.08, 20.0),
    cameras=(),
    urdf_path=None,
)
CFG = SafetyConfig()
Q0 = np.array([0.0, 0.0, 0.075, 0.5])  # inside the margin band
LO = np.array([-1.4, -0.9, 0.075, 0.0])  # the band for CFG's 0.1 rad margin
HI = np.array([1.4, 0.9, 0.075, 1.0])
V_MAX = np.array([1.5, 1.0, 1.5, 2.0])  # min(cfg cap, spec) [rad/s], gripper [1/s]
STEP_MAX = np.array([0.03, 0.03, 0.03, 0.05])
# The fake kinematics: 4 rad of joint motion per metre along x, y, z (pan, lift, tiny).
JAC = np.hstack([4.0 * np.eye(3), np.zeros((3, 3))])


def fake_ik(q_from: np.ndarray, linear: np.ndarray, angular: np.ndarray, dt: float) -> np.ndarray:
    return q_from + dt * (JAC @ np.concatenate([linear, angular]))


def tick(
    state: FilterState,
    command: ReceivedJoints | ReceivedVelocity | None = None,
    *,
    at_ms: float,
    q: object = Q0,
    cfg: SafetyConfig = CFG,
    fn: object = fake_ik,
) -> TickResult:
    return step(state, command, round(at_ms * MS), q, SPEC, cfg, fn)  # type: ignore[arg-type]


def joints(seq: int, at_ms: float, q: object, deadman: object = None) -> ReceivedJoints:
    return ReceivedJoints(seq, round(at_ms * MS), q, deadman)


def velocity(
    seq: int,
    at_ms: float,
    linear: object = (0.1, 0.0, 0.0),
    angular: object = (0.0, 0.0, 0.0),
    gripper: object = 0.5,
    deadman: object = True,
) -> ReceivedVelocity:
    return ReceivedVelocity(seq, round(at_ms * MS), linear, angular, gripper, deadman)


def started(cfg: SafetyConfig = CFG, q: object = Q0) -> TickResult:
    return tick(FilterState(), at_ms=0, q=q, cfg=cfg)


def target_of(state: FilterState) -> np.ndarray:
    assert state.target is not None, "no tick has run yet"
    return state.target


def q_with(**entries: float) -> np.ndarray:
    out = Q0.copy()
    for name, value in entries.items():
        out[SPEC.joint_names.index(name)] = value
    return out


# --- stage 1: reject (as_finite_array) -----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        [float("nan"), 0.0, 0.0, 0.5],
        [0.0, float("inf"), 0.0, 0.5],
        [0.0, 0.0, float("-inf"), 0.5],
        [0.0, 0.0, 0.0, float("1e400")],  # what json.loads makes of 1e400
        [10**400, 0.0, 0.0, 0.5],  # an int too large for a float64
        np.array([0.0, 0.0, np.nan, 0.5], dtype=np.float32),
    ],
)
def test_as_finite_array_refuses_nonfinite(value: object) -> None:
    result = checks.as_finite_array(value, (4,), "q")
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.NONFINITE


@pytest.mark.parametrize(
    "value",
    [
        [0.0, 0.0, 0.5],
        [[0.0, 0.0], [0.0, 0.5]],
        [[0.0], 0.0, 0.0, 0.5],  # ragged
        "0, 0, 0, 0.5",
        ["0", "0", "0", "0.5"],  # numeric strings are still strings
        [True, False, True, False],
        [0.0, None, 0.0, 0.5],
        {"q": [0.0, 0.0, 0.0, 0.5]},
        None,
        0.5,
        [1j, 0, 0, 0],
    ],
)
def test_as_finite_array_refuses_wrong_shape_or_type(value: object) -> None:
    result = checks.as_finite_array(value, (4,), "q")
    assert isinstance(result, Rejection)
    assert result.reason is RejectReason.SHAPE


def test_as_finite_array_accepts_ints_and_names_the_bad_joint() -> None:
    ok = checks.as_finite_array([0, 1, 2**64, 0.5], (4,), "q")
    assert isinstance(ok, np.ndarray) and ok.dtype == np.float64
    assert ok.tolist() == [0.0, 1.0, 2.0**64, 0.5]
    bad = checks.as_finite_array([0, 0, math.nan, 0], (4,), "q", SPEC.joint_names)
    assert isinstance(bad, Rejection) and "q['tiny'] is nan" in bad.message
    wrong = checks.as_finite_array([0, 0], (4,), "q", SPEC.joint_names)
    assert isinstance(wrong, Rejection) and "pan, lift, tiny, gripper" in wrong.message


def test_as_finite_array_scalar_shape() -> None:
    assert checks.as_finite_array(1, (), "gripper") == 1.0
    assert isinstance(checks.as_finite_array([1.0], (), "gripper"), Rejection)


# --- stage 2: watchdog and decay --------------------------------------------------------------


def test_is_stale_judges_by_receive_time() -> None:
    assert not checks.is_stale(0, 149 * MS, 150 * MS)
    assert not checks.is_stale(0, 150 * MS, 150 * MS)
    assert checks.is_stale(0, 151 * MS, 150 * MS)
    assert not checks.is_stale(10 * MS, 5 * MS, 150 * MS)  # received "after" now: fresh


def test_decay_shrinks_then_reaches_exactly_zero() -> None:
    v = np.array([0.25, 0.0, 0.0, 0.0, 0.0, 1.0])
    first = checks.decay(v, 0.01, 0.05, 1e-3)
    assert first == pytest.approx(v * math.exp(-0.2))
    ticks = 0
    while v.any():
        v = checks.decay(v, 0.01, 0.05, 1e-3)
        ticks += 1
        assert ticks < 100
    assert np.array_equal(v, np.zeros(6))
    assert 25 <= ticks <= 40  # ln(1000) / 0.2 ≈ 35 ticks of 10 ms
    assert np.array_equal(checks.decay(first, 0.0, 0.05, 1e-3), first)


def test_cap_norm_keeps_direction_and_survives_huge_values() -> None:
    same, capped = checks.cap_norm(np.array([0.1, 0.0, 0.0]), 0.25)
    assert not capped and same.tolist() == [0.1, 0.0, 0.0]
    out, capped = checks.cap_norm(np.array([3.0, 4.0, 0.0]), 0.25)
    assert capped and out == pytest.approx([0.15, 0.2, 0.0])
    huge, capped = checks.cap_norm(np.array([1e308, -1e308, 1e308]), 0.25)
    assert capped and np.linalg.norm(huge) == pytest.approx(0.25)
    assert huge[0] > 0 > huge[1]


# --- stages 4-7: jump, step, velocity, limits -------------------------------------------------


def test_first_jump_finds_the_first_joint_over_the_threshold() -> None:
    ref = np.zeros(3)
    assert checks.first_jump(np.array([0.5, -0.5, 0.0]), ref, 0.5) is None
    assert checks.first_jump(np.array([0.1, -0.51, 0.9]), ref, 0.5) == 1


def test_clamp_step_limits_each_entry_and_keeps_exact_values() -> None:
    prev = np.array([0.1, 0.1, 0.1])
    out, hit = checks.clamp_step(prev, np.array([0.3, 0.12, -0.5]), 0.05)
    assert hit and out == pytest.approx([0.15, 0.12, 0.05])
    out, hit = checks.clamp_step(prev, np.array([0.11, 0.12, 0.13]), 0.05)
    assert not hit and out.tolist() == [0.11, 0.12, 0.13]  # no rounding drift


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_clamps_never_output_nan(bad: float) -> None:
    prev = np.array([0.1, 0.2])
    desired = np.array([bad, 0.25])
    for out, _ in (
        checks.clamp_step(prev, desired, 0.05),
        checks.cap_velocity(prev, desired, np.array([1.0, 1.0]), 0.01),
        checks.clamp_limits(prev, desired, np.array([-1.0, -1.0]), np.array([1.0, 1.0])),
    ):
        assert np.isfinite(out).all()
        assert out[0] == 0.1  # a non-finite entry means "do not move"


@pytest.mark.parametrize("rate_hz", [100, 200, 500])
def test_cap_velocity_scales_with_the_tick(rate_hz: int) -> None:
    dt = 1.0 / rate_hz
    prev = np.zeros(2)
    out, hit = checks.cap_velocity(prev, np.array([1.0, -1.0]), np.array([1.5, 1.0]), dt)
    assert hit and out == pytest.approx([1.5 * dt, -1.0 * dt])
    out, hit = checks.cap_velocity(prev, np.array([1.0, -1.0]), np.array([1.5, 1.0]), 0.0)
    assert hit and out.tolist() == [0.0, 0.0]


def test_limit_band_uses_the_middle_of_narrow_ranges() -> None:
    lo, hi = checks.limit_band(SPEC.lower, SPEC.upper, np.array([0.1, 0.1, 0.1, 0.0]))
    assert lo == pytest.approx(LO) and hi == pytest.approx(HI)


def test_clamp_limits_eases_in_from_outside_and_never_goes_further_out() -> None:
    lo, hi = np.array([-0.9]), np.array([0.9])
    out, hit = checks.clamp_limits(np.array([0.0]), np.array([1.2]), lo, hi)
    assert hit and out.tolist() == [0.9]
    out, hit = checks.clamp_limits(np.array([0.95]), np.array([0.93]), lo, hi)
    assert not hit and out.tolist() == [0.93]  # outside the band, moving in: allowed
    out, hit = checks.clamp_limits(np.array([0.95]), np.array([0.99]), lo, hi)
    assert hit and out.tolist() == [0.95]  # outside the band, moving out: held


# --- configuration and counters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("watchdog_timeout_ns", 0),
        ("watchdog_timeout_ns", 0.15),
        ("max_step_rad", 0.0),
        ("max_jump_rad", -0.5),
        ("max_joint_velocity_rad_s", math.nan),
        ("max_linear_speed_m_s", math.inf),
        ("joint_margin_rad", -0.1),
        ("decay_time_constant_s", True),
        ("require_deadman_velocity", 1),
    ],
)
def test_config_refuses_bad_values_with_the_field_named(field: str, value: object) -> None:
    with pytest.raises(SafetyConfigError, match=field):
        SafetyConfig(**{field: value})  # type: ignore[arg-type]


def test_config_allows_a_zero_margin() -> None:
    assert SafetyConfig(joint_margin_rad=0.0).joint_margin_rad == 0.0


def test_every_event_has_a_counter() -> None:
    fields = {f.name for f in dataclasses.fields(SafetyCounters)}
    assert {e.value for e in Event} == fields
    counts = SafetyCounters().add([Event.STEP_CLAMP, Event.STEP_CLAMP, Event.ESTOP_TICK])
    assert counts.as_dict()["step_clamps"] == 2 and counts.estop_ticks == 1
    assert counts.rejected_shape == 0


# --- step: start, hold, reject -----------------------------------------------------------------


def test_first_tick_holds_the_measured_position() -> None:
    result = tick(FilterState(), joints(1, 0, q_with(pan=0.2)), at_ms=0)
    assert result.target.tolist() == Q0.tolist()  # no time has passed: nothing moves
    assert not result.target.flags.writeable


def test_first_tick_refuses_a_nonfinite_measurement_later_ticks_ignore_it() -> None:
    with pytest.raises(MeasurementError, match="measured q"):
        tick(FilterState(), at_ms=0, q=[0.0, math.nan, 0.0, 0.5])
    first = started()
    later = tick(first.state, at_ms=10, q=[math.nan] * 4)
    assert later.target.tolist() == Q0.tolist()


def test_an_arm_started_beyond_the_margin_is_never_jerked_into_the_band() -> None:
    outside = q_with(pan=1.5, tiny=0.0)  # on the hard limit; tiny below its middle
    result = started(q=outside)
    assert result.target.tolist() == outside.tolist()
    result = tick(result.state, joints(1, 5, outside), at_ms=10)
    assert result.target.tolist() == outside.tolist()  # not pulled in, not pushed out
    result = tick(result.state, joints(2, 15, q_with(pan=1.3)), at_ms=20)
    assert result.target[0] == pytest.approx(1.5 - 0.015)  # eases in at the rate limit
    assert result.target[2] == pytest.approx(0.015)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (joints(1, 5, [math.nan, 0, 0.075, 0.5]), RejectReason.NONFINITE),
        (joints(1, 5, [0, 0, 0.075, float("1e400")]), RejectReason.NONFINITE),
        (joints(1, 5, [10**400, 0, 0.075, 0.5]), RejectReason.NONFINITE),
        (joints(1, 5, [0, 0, 0.5]), RejectReason.SHAPE),
        (joints(1, 5, [0, 0, 0.075, 0.5], deadman="yes"), RejectReason.SHAPE),
        (velocity(1, 5, linear=[0.1, math.inf, 0.0]), RejectReason.NONFINITE),
        (velocity(1, 5, angular=[0.0, 0.0, -math.inf]), RejectReason.NONFINITE),
        (velocity(1, 5, gripper=math.nan), RejectReason.NONFINITE),
        (velocity(1, 5, linear=[0.1, 0.0]), RejectReason.SHAPE),
        (velocity(1, 5, gripper=[0.5, 0.5]), RejectReason.SHAPE),
    ],
)
def test_reject_refuses_and_holds(command: ReceivedJoints, reason: RejectReason) -> None:
    moving = tick(started().state, joints(0, 1, q_with(pan=0.3)), at_ms=10)
    result = tick(moving.state, command, at_ms=20)
    assert result.rejection is not None and result.rejection.reason is reason
    assert result.hold is HoldReason.REJECTED
    assert result.target.tolist() == moving.target.tolist()
    assert np.isfinite(result.target).all() and np.isfinite(result.requested).all()
    event = Event.REJECTED_NONFINITE if reason is RejectReason.NONFINITE else Event.REJECTED_SHAPE
    assert result.events == (event,)
    later = tick(result.state, at_ms=30)  # the earlier good command is dropped too
    assert later.hold is HoldReason.NO_COMMAND
    assert later.target.tolist() == moving.target.tolist()


# --- step: watchdog ---------------------------------------------------------------------------


@pytest.mark.parametrize(("age_ms", "stale"), [(149, False), (151, True)])
def test_watchdog_in_joints_mode(age_ms: int, stale: bool) -> None:
    state = tick(started().state, joints(1, 5, q_with(pan=0.45)), at_ms=10).state
    before = tick(state, at_ms=5 + age_ms - 1)
    result = tick(before.state, at_ms=5 + age_ms)
    if stale:
        assert result.hold is HoldReason.WATCHDOG
        assert result.target.tolist() == before.target.tolist()  # stopped advancing
        assert result.events == (Event.WATCHDOG_TRIP, Event.WATCHDOG_TICK)
    else:
        assert result.hold is HoldReason.NONE and result.target[0] > before.target[0]


def test_watchdog_counts_one_trip_and_every_held_tick() -> None:
    state = tick(started().state, joints(1, 5, q_with(pan=0.1)), at_ms=10).state
    for t in range(160, 210, 10):
        state = tick(state, at_ms=t).state
    assert state.counters.watchdog_holds == 1
    assert state.counters.watchdog_hold_ticks == 5
    state = tick(state, joints(2, 210, q_with(pan=0.1)), at_ms=210).state
    state = tick(tick(state, at_ms=400).state, at_ms=410).state
    assert state.counters.watchdog_holds == 2


def test_watchdog_uses_receive_time_so_a_late_command_never_moves() -> None:
    # Sat in a stalled queue: received at 5 ms, handed to the filter at 300 ms.
    result = tick(started().state, joints(1, 5, q_with(pan=0.2)), at_ms=300)
    assert result.hold is HoldReason.WATCHDOG
    assert result.target.tolist() == Q0.tolist()


def test_watchdog_glides_ee_velocity_to_exactly_zero() -> None:
    state = started().state
    for t in range(10, 110, 10):
        state = tick(state, velocity(t, t, linear=[0.2, 0.0, 0.0]), at_ms=t).state
    last_command_pan, holds, glide = target_of(state)[0], [], []
    for t in range(110, 1000, 10):
        result = tick(state, at_ms=t)
        holds.append(result.hold)
        if result.hold is HoldReason.WATCHDOG:
            glide.append(result.target[0] - target_of(state)[0])
        state = result.state
    assert holds[:15] == [HoldReason.NONE] * 15  # fresh up to 150 ms after the last one
    assert set(holds[15:]) == {HoldReason.WATCHDOG}
    assert all(b <= a for a, b in itertools.pairwise(glide))  # slowing down
    assert glide[0] > 0 and glide[-1] == 0.0 and np.array_equal(state.twist, np.zeros(6))
    # 0.2 m/s * 4 rad/m for 150 ms, then a glide of about 4 * v * tau = 0.04 rad.
    moved = target_of(state)[0] - last_command_pan
    assert moved == pytest.approx(0.8 * 0.15 + 0.8 * 0.05, abs=0.01)


# --- step: deadman ----------------------------------------------------------------------------


@pytest.mark.parametrize("deadman", [False, None])
def test_released_deadman_holds_ee_velocity(deadman: bool | None) -> None:
    state = started().state
    for t in (10, 20, 30):
        result = tick(state, velocity(t, t, gripper=1.0, deadman=deadman), at_ms=t)
        state = result.state
        assert result.hold is HoldReason.DEADMAN
        assert result.target.tolist() == Q0.tolist()  # the gripper holds too
    assert state.counters.deadman_holds == 3


def test_pressed_deadman_moves_ee_velocity() -> None:
    state = tick(started().state, velocity(1, 10, deadman=True), at_ms=10).state
    assert target_of(state)[0] == pytest.approx(0.004)  # 0.1 m/s * 4 rad/m * 10 ms
    assert state.applied_seq == 1


def test_joints_mode_needs_no_deadman_unless_configured() -> None:
    command = joints(1, 5, q_with(pan=0.2), deadman=False)
    assert tick(started().state, command, at_ms=10).hold is HoldReason.NONE
    strict = SafetyConfig(require_deadman_joints=True)
    result = tick(started(strict).state, command, at_ms=10, cfg=strict)
    assert result.hold is HoldReason.DEADMAN and result.target.tolist() == Q0.tolist()
    pressed = joints(1, 5, q_with(pan=0.2), deadman=True)
    assert tick(started(strict).state, pressed, at_ms=10, cfg=strict).hold is HoldReason.NONE


# --- step: jump guard -------------------------------------------------------------------------


def test_jump_guard_refuses_a_far_target_and_holds() -> None:
    result = tick(started().state, joints(1, 5, q_with(lift=0.55)), at_ms=10)
    assert result.rejection is not None and result.rejection.reason is RejectReason.JUMP
    assert "'lift'" in result.rejection.message
    assert result.events == (Event.JUMP_REJECTED,)
    assert result.target.tolist() == Q0.tolist()
    assert tick(result.state, at_ms=20).target.tolist() == Q0.tolist()
    near = tick(result.state, joints(2, 25, q_with(lift=0.45)), at_ms=30)
    assert near.hold is HoldReason.NONE and near.target[1] > 0


def test_jump_guard_ignores_the_gripper() -> None:
    result = tick(started().state, joints(1, 5, q_with(gripper=1.0)), at_ms=10)
    assert result.rejection is None and result.target[3] == pytest.approx(0.52)


def test_jump_guard_follows_a_fast_stream_that_the_arm_lags_behind() -> None:
    # A leader at 3 rad/s, 100 Hz: twice the cap, so the follower falls behind by >0.5 rad.
    state = started().state
    for i in range(1, 41):
        result = tick(state, joints(i, 10 * i - 1, q_with(pan=0.03 * i)), at_ms=10 * i)
        state = result.state
        assert result.rejection is None
    assert 1.2 - target_of(state)[0] > 0.5
    glitch = tick(state, joints(41, 409, q_with(pan=1.2 + 0.6)), at_ms=410)
    assert glitch.rejection is not None and glitch.target.tolist() == target_of(state).tolist()
    resumed = tick(glitch.state, joints(42, 419, q_with(pan=1.23)), at_ms=420)
    assert resumed.rejection is None and resumed.target[0] > target_of(state)[0]


# --- step: step clamp, velocity cap, limits, order -------------------------------------------


def test_step_clamp_bounds_a_late_tick() -> None:
    state = started().state
    state = tick(state, joints(1, 5, q_with(pan=0.4, gripper=1.0)), at_ms=100).state
    assert target_of(state)[0] == pytest.approx(0.03)  # 1.5 rad/s * 0.1 s would be 0.15
    assert target_of(state)[3] == pytest.approx(0.55)
    assert state.counters.step_clamps == 1


@pytest.mark.parametrize("rate_hz", [100, 200, 500])
def test_velocity_cap_per_joint_at_loop_rates(rate_hz: int) -> None:
    dt_ms = 1000 / rate_hz
    far = q_with(pan=0.4, lift=-0.4, gripper=0.0)
    state = tick(started().state, joints(1, 0, far), at_ms=dt_ms).state
    moved = np.abs(target_of(state) - Q0)
    assert moved[[0, 1, 3]] == pytest.approx(V_MAX[[0, 1, 3]] * dt_ms / 1000)
    assert moved[2] == 0.0
    assert state.counters.velocity_clamps == 1


def test_joint_limits_with_margin_and_none_for_the_gripper() -> None:
    state = started().state
    goal = np.array([1.49, -0.99, 0.15, 1.0])  # within the hard limits, beyond the margins
    for i in range(1, 250):
        ramp = Q0 + np.clip(goal - Q0, -0.01 * i, 0.01 * i)  # a leader easing in
        state = tick(state, joints(i, 10 * i - 1, ramp), at_ms=10 * i).state
    assert target_of(state) == pytest.approx([1.4, -0.9, 0.075, 1.0])
    assert state.counters.limit_clamps > 0


def test_stages_apply_in_order_to_a_command_too_fast_and_out_of_limits() -> None:
    near_top = q_with(pan=1.39)
    state = tick(started(q=near_top).state, at_ms=10).state
    result = tick(state, joints(1, 15, q_with(pan=1.49)), at_ms=20)
    assert result.events == (Event.STEP_CLAMP, Event.VELOCITY_CLAMP, Event.LIMIT_CLAMP)
    assert result.target[0] == pytest.approx(1.4)  # 1.39 + 0.015 passes the rates, not 1.4
    assert result.requested[0] == 1.49
    fast_far = tick(state, joints(1, 15, q_with(pan=1.0)), at_ms=20)
    assert fast_far.events == (Event.STEP_CLAMP, Event.VELOCITY_CLAMP)
    assert fast_far.target[0] == pytest.approx(1.375)


# --- step: kinematics, requested --------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["nan", "short", "raises"])
def test_kinematics_failure_holds(outcome: str) -> None:
    def broken(q: np.ndarray, lin: np.ndarray, ang: np.ndarray, dt: float) -> np.ndarray:
        if outcome == "raises":
            raise RobotError("singular")
        return np.full(3, np.nan) if outcome == "nan" else np.zeros(2)

    result = tick(started().state, velocity(1, 5), at_ms=10, fn=broken)
    assert result.hold is HoldReason.KINEMATICS
    assert result.target.tolist() == Q0.tolist() and result.requested.tolist() == Q0.tolist()
    assert result.state.counters.kinematics_failures == 1


def test_requested_is_the_ask_before_safety() -> None:
    far = q_with(pan=0.3)
    result = tick(started().state, joints(1, 5, far), at_ms=10)
    assert result.requested.tolist() == far.tolist() and result.target[0] < 0.3
    fast = velocity(2, 5, linear=[5.0, 0.0, 0.0], gripper=0.9, deadman=False)
    result = tick(started().state, fast, at_ms=10)
    assert result.hold is HoldReason.DEADMAN and Event.TWIST_CLAMP in result.events
    assert result.requested == pytest.approx([0.01, 0.0, 0.075, 0.9])  # capped at 0.25 m/s
    assert result.target.tolist() == Q0.tolist()


def test_step_does_not_change_its_input_state() -> None:
    state = tick(started().state, joints(1, 5, q_with(pan=0.3)), at_ms=10).state
    target = target_of(state).copy()
    tick(state, joints(2, 15, q_with(pan=0.4)), at_ms=20)
    assert target_of(state).tolist() == target.tolist() and state.applied_seq == 1
    assert state.active is not None and state.active.mode is Mode.JOINTS


# --- step: e-stop -----------------------------------------------------------------------------


def test_estop_latches_until_reset_then_waits_for_a_fresh_command() -> None:
    state = tick(started().state, joints(1, 5, q_with(pan=0.5)), at_ms=10).state
    held = target_of(state)
    state = trigger_estop(state)
    for t in range(20, 120, 10):  # commands keep coming: a reconnect, a leader arm
        result = tick(state, joints(t, t - 1, q_with(pan=0.5)), at_ms=t)
        state = result.state
        assert result.hold is HoldReason.ESTOP and result.target.tolist() == held.tolist()
    assert state.estop and state.counters.estop_ticks == 10
    pending = joints(200, 119, q_with(pan=0.5))  # received before the reset
    state = reset_estop(state, 120 * MS)
    result = tick(state, pending, at_ms=125)
    assert result.events == (Event.STALE_COMMAND,) and result.hold is HoldReason.NO_COMMAND
    result = tick(result.state, at_ms=130)
    assert result.target.tolist() == held.tolist()
    result = tick(result.state, joints(201, 131, q_with(pan=0.5)), at_ms=140)
    assert result.hold is HoldReason.NONE and result.target[0] > held[0]


def test_reset_without_a_latch_is_a_no_op() -> None:
    state = tick(started().state, joints(1, 5, q_with(pan=0.5)), at_ms=10).state
    assert reset_estop(state, 20 * MS) is state


def test_estop_stops_ee_velocity_without_a_glide() -> None:
    state = tick(started().state, velocity(1, 5), at_ms=10).state
    state = trigger_estop(state)
    result = tick(state, at_ms=20)
    assert result.target.tolist() == target_of(state).tolist()
    state = reset_estop(result.state, 25 * MS)
    assert tick(state, at_ms=30).target.tolist() == result.target.tolist()


# --- properties -------------------------------------------------------------------------------

_floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -1e308])
_junk = st.none() | st.text(max_size=3) | st.integers(-(2**80), 2**80) | st.booleans()
_vectors = st.lists(_floats, min_size=0, max_size=6) | st.lists(_junk, max_size=4) | _junk
_near = st.lists(st.floats(-2.0, 2.0), min_size=4, max_size=4)  # often passes the guards
_twist = st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3)
_deadman = st.none() | st.booleans() | st.just("yes")


Command = ReceivedJoints | ReceivedVelocity | None
Run = tuple[np.ndarray, list[tuple[int, Command, str]]]


@st.composite
def _commands(draw: st.DrawFn, seq: int, at_ns: int) -> Command:
    received = at_ns - draw(st.integers(0, 300 * MS))
    kind = draw(st.sampled_from(["none", "joints", "near", "velocity", "twist"]))
    if kind == "none":
        return None
    if kind in ("joints", "near"):
        q = draw(_vectors if kind == "joints" else _near)
        return ReceivedJoints(seq, received, q, draw(_deadman))
    if kind == "twist":
        opening = draw(st.floats(-0.5, 1.5))
        return ReceivedVelocity(seq, received, draw(_twist), draw(_twist), opening, True)
    linear, angular, gripper = draw(_vectors), draw(_vectors), draw(_floats | _junk)
    return ReceivedVelocity(seq, received, linear, angular, gripper, draw(_deadman))


@st.composite
def _runs(draw: st.DrawFn) -> Run:
    q0 = np.array([draw(st.floats(j.lower, j.upper)) for j in SPEC.joints])
    now, ticks = 0, []
    for seq in range(draw(st.integers(1, 40))):
        now += draw(st.integers(0, 250 * MS))
        action = draw(st.sampled_from(["tick"] * 8 + ["estop", "reset"]))
        ticks.append((now, draw(_commands(seq, now)), action))
    return q0, ticks


def _outside(x: np.ndarray) -> np.ndarray:
    return np.maximum(LO - x, 0.0) + np.maximum(x - HI, 0.0)


def _check_tick(prev: np.ndarray, result: TickResult, dt_s: float) -> None:
    target = result.target
    assert target.shape == (SPEC.dof,) and np.isfinite(target).all()
    assert np.isfinite(result.requested).all()
    assert (target >= SPEC.lower).all() and (target <= SPEC.upper).all()
    bound = np.minimum(STEP_MAX, V_MAX * dt_s) + 1e-12
    assert (np.abs(target - prev) <= bound).all()
    assert (_outside(target) <= _outside(prev) + 1e-12).all()
    if not _outside(prev).any():
        assert (target >= LO - 1e-12).all() and (target <= HI + 1e-12).all()


@settings(max_examples=300, deadline=None)
@given(_runs())
def test_property_target_is_always_finite_bounded_and_rate_limited(run: Run) -> None:
    q0, ticks = run
    state = FilterState()
    prev, last_ns = q0, 0
    for now, command, action in ticks:
        if action == "estop":
            state = trigger_estop(state)
        elif action == "reset":
            state = reset_estop(state, now)
        result = step(state, command, now, q0, SPEC, CFG, fake_ik)
        dt_s = 0.0 if state.target is None else (now - last_ns) * 1e-9
        _check_tick(prev, result, dt_s)
        if state.estop:
            assert result.target.tolist() == prev.tolist()
        state, prev, last_ns = result.state, result.target, now


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1.4, 1.4), min_size=4, max_size=4), _runs())
def test_property_an_arm_started_inside_the_band_never_leaves_it(
    start: list[float], run: Run
) -> None:
    q0 = np.clip(np.array(start), LO, HI)
    state = FilterState()
    for now, command, _ in run[1]:
        state = step(state, command, now, q0, SPEC, CFG, fake_ik).state
        assert (target_of(state) >= LO).all() and (target_of(state) <= HI).all()
