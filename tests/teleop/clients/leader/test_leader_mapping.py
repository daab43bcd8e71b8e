"""The pure leader -> follower mapping: ticks through the leader's calibration, in the
follower's joint order and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from leaderkit import FOLLOWER, LEADER, leader_ticks

from robots.serial.calibration import RAD_PER_TICK, Calibration
from robots.serial.so101 import JOINT_NAMES
from teleop.clients.leader.errors import LeaderConfigError
from teleop.clients.leader.mapping import LeaderMapping

LOWER, UPPER = FOLLOWER.limits()


def mapping(calibration: Calibration = LEADER) -> LeaderMapping:
    return LeaderMapping.build(calibration, JOINT_NAMES, LOWER, UPPER)


def test_ticks_become_follower_radians_through_the_leaders_calibration() -> None:
    # Leader: pan homed at 2100, lift reversed about 1900, gripper closed at 2600.
    ticks = [2100 + 100, 1900 + 200, 2048 - 300, 2000, 2048, 2600 - 600]
    q = mapping().to_follower(ticks)
    expected = [100 * RAD_PER_TICK, -200 * RAD_PER_TICK, -300 * RAD_PER_TICK, 0.0, 0.0, 0.5]
    np.testing.assert_allclose(q, expected, atol=1e-12)


def test_the_follower_gets_the_same_angles_through_its_own_calibration() -> None:
    """Both calibrations: leader ticks -> rad here, rad -> follower ticks on the server."""
    pose = np.array([0.3, -0.5, 0.8, -0.2, 1.0, 0.25])
    q = mapping().to_follower(list(leader_ticks(pose).values()))
    follower_ticks = FOLLOWER.to_ticks(q)
    np.testing.assert_allclose(FOLLOWER.to_q(follower_ticks), pose, atol=1.5 * RAD_PER_TICK)
    assert follower_ticks[1] == 2048 + round(-0.5 / RAD_PER_TICK)  # same angle, other ticks


def test_targets_are_clipped_into_the_followers_limits() -> None:
    narrow_upper = UPPER.copy()
    narrow_upper[0] = 0.2
    m = LeaderMapping.build(LEADER, JOINT_NAMES, LOWER, narrow_upper)
    q = m.to_follower([3200, 1900, 2048, 2000, 2048, 2600])  # pan at +1.686 rad
    assert q[0] == 0.2 and q[-1] == 0.0


def test_joints_are_matched_by_name_not_position() -> None:
    order = ("shoulder_lift", "shoulder_pan", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
    m = LeaderMapping.build(LEADER, order, LOWER[[1, 0, 2, 3, 4, 5]], UPPER[[1, 0, 2, 3, 4, 5]])
    q = m.to_follower([2100 + 100, 1900, 2048, 2000, 2048, 2600])
    assert q[1] == pytest.approx(100 * RAD_PER_TICK) and q[0] == 0.0


def test_a_follower_with_other_joints_is_refused_with_the_fix() -> None:
    names = ("base", "shoulder", "elbow", "wrist", "roll", "gripper")
    with pytest.raises(LeaderConfigError, match="teleop calibrate"):
        LeaderMapping.build(LEADER, names, LOWER, UPPER)
    with pytest.raises(LeaderConfigError, match="6 finite"):
        LeaderMapping.build(LEADER, JOINT_NAMES, [math.nan] * 6, UPPER)


def test_a_rule_in_radians_covers_the_gripper_by_its_travel() -> None:
    bound = mapping().per_joint(0.8)
    span_rad = 1200 * RAD_PER_TICK  # the leader gripper: 1400..2600
    np.testing.assert_allclose(bound, [0.8] * 5 + [0.8 / span_rad])
