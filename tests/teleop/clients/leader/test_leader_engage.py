"""The pure engage logic: compare within 0.8 rad, ease in at <= 0.05 rad per tick, follow,
and compare afresh after a disengage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from robots.serial.so101 import JOINT_NAMES
from teleop.clients.leader.engage import Decision, Engager, Phase
from teleop.clients.leader.errors import LeaderConfigError

MISMATCH = np.array([0.8] * 5 + [0.4])
STEP = np.array([0.05] * 5 + [0.025])
ZERO = np.zeros(6)


def engager() -> Engager:
    return Engager(JOINT_NAMES, MISMATCH, STEP)


def test_no_follower_state_means_waiting_and_nothing_sent() -> None:
    decision = engager().step(ZERO, None)
    assert decision.phase is Phase.WAITING and decision.target is None


def test_losing_the_follower_state_while_following_stops_at_once() -> None:
    e = engager()
    assert e.step(np.full(6, 0.01), ZERO).phase is Phase.FOLLOWING
    assert e.step(np.full(6, 0.01), None) == Decision(Phase.WAITING)  # e.g. the e-stop
    assert e.step(np.full(6, 0.3), ZERO).phase is Phase.EASING  # compared afresh


def test_a_joint_beyond_the_bound_is_named_with_how_far_and_nothing_is_sent() -> None:
    e = engager()
    leader = np.array([0.1, 0.0, 1.23, 0.9, 0.0, 0.5])  # elbow 1.23 off, wrist 0.9 off
    decision = e.step(leader, np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.5]))
    assert decision.phase is Phase.MISMATCH and decision.target is None
    assert decision.mismatch is not None
    text = decision.mismatch.describe()
    assert text.startswith("elbow_flex is 1.23 rad off") and "follower +0.00" in text
    assert e.step(leader, ZERO).target is None  # still refusing on the next tick


def test_the_gripper_is_compared_in_opening_units() -> None:
    decision = engager().step(np.array([0, 0, 0, 0, 0, 0.9]), np.array([0, 0, 0, 0, 0, 0.2]))
    assert decision.mismatch is not None and decision.mismatch.joint == "gripper"
    assert "0.70 of its opening off" in decision.mismatch.describe()


def test_nan_never_engages() -> None:
    decision = engager().step(np.array([math.nan, 0, 0, 0, 0, 0]), ZERO)
    assert decision.phase is Phase.MISMATCH and decision.target is None


def test_eases_in_from_the_follower_then_follows() -> None:
    e = engager()
    follower = np.array([0.0, 0.2, 0.0, 0.0, 0.0, 0.5])
    leader = np.array([0.3, -0.5, 0.0, 0.1, 0.0, 0.6])
    targets = []
    while True:
        decision = e.step(leader, follower)
        assert decision.target is not None
        targets.append(decision.target)
        if decision.phase is Phase.FOLLOWING:
            break
        assert decision.phase is Phase.EASING
    steps = np.abs(np.diff(np.vstack([follower, *targets]), axis=0))
    assert np.all(steps <= STEP + 1e-9)
    assert len(targets) == 14  # the lift's 0.7 rad at 0.05 rad per tick
    np.testing.assert_array_equal(targets[-1], leader)
    moved = leader + 0.3
    following = e.step(moved, follower)  # following: directly, however far it moved
    assert following.phase is Phase.FOLLOWING and following.target is not None
    np.testing.assert_array_equal(following.target, moved)


def test_easing_chases_a_moving_leader() -> None:
    e = engager()
    target = e.step(np.full(6, 0.3), ZERO).target
    assert target is not None and np.allclose(target, STEP)
    target = e.step(np.full(6, -0.3), ZERO).target  # the leader swung the other way
    assert target is not None and np.allclose(target, 0.0)


def test_disengage_forgets_the_target_and_compares_again() -> None:
    e = engager()
    for _ in range(30):
        e.step(np.full(6, 0.4), ZERO)
    assert e.phase is Phase.FOLLOWING
    e.disengage()
    assert e.phase is Phase.WAITING and not e.engaged
    follower = np.full(6, 0.1)
    target = e.step(np.full(6, 0.4), follower).target  # again from the follower, not 0.4
    assert target is not None and np.allclose(target, follower + STEP)
    e.disengage()
    assert e.step(np.full(6, 1.0) * [1, 1, 1, 1, 1, 0], ZERO).phase is Phase.MISMATCH


@settings(max_examples=200, deadline=None)
@given(
    follower=st.lists(st.floats(-1.5, 1.5), min_size=6, max_size=6),
    offsets=st.lists(st.floats(-0.79, 0.79), min_size=6, max_size=6),
    drift=st.lists(st.floats(-0.02, 0.02), min_size=6, max_size=6),
)
def test_every_ease_in_step_is_within_the_bound_and_ends_on_the_leader(
    follower: list[float], offsets: list[float], drift: list[float]
) -> None:
    e = engager()
    q_f = np.array(follower)
    leader = q_f + np.array(offsets) * MISMATCH / 0.8
    previous = q_f
    for _ in range(200):
        decision = e.step(leader, q_f)
        assert decision.target is not None
        assert np.all(np.abs(decision.target - previous) <= STEP + 1e-9)
        previous = decision.target
        if decision.phase is Phase.FOLLOWING:
            break
        leader = leader + np.array(drift)  # the operator's hand is never still
    assert e.phase is Phase.FOLLOWING
    np.testing.assert_array_equal(previous, leader)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(LeaderConfigError, match="max_step"):
        Engager(JOINT_NAMES, MISMATCH, np.zeros(6))
    with pytest.raises(LeaderConfigError, match="max_mismatch"):
        Engager(JOINT_NAMES, [0.8] * 5, STEP)
