"""The pure force-feedback rule: proportional, capped, anchored, and never pulling the
operator's hand closed."""

from __future__ import annotations

import math

import pytest

from robots.serial.calibration import JointCalibration
from teleop.clients.leader.errors import LeaderConfigError
from teleop.clients.leader.feedback import HARD_CAP, OFF, FeedbackConfig, GripperFeedback

OPENS_UP = JointCalibration(6, 1, 1500, 1500, 2500)  # closed at 1500, opens toward 2500
OPENS_DOWN = JointCalibration(6, -1, 2600, 1400, 2600)  # closed at 2600


def test_the_limit_is_proportional_capped_and_zero_below_the_deadband() -> None:
    fb = GripperFeedback(FeedbackConfig(gain_per_n=10.0, max_limit=150, deadband_n=0.5), OPENS_UP)
    assert fb.limit_for(0.4) == 0
    assert fb.limit_for(3.0) == 30
    assert fb.limit_for(29.4) == 150  # the follower's full grasp: capped at 15 %
    assert fb.limit_for(math.nan) == 0 and fb.limit_for(math.inf) == 0


def test_the_goal_sits_a_little_toward_open_from_where_the_grasp_began() -> None:
    fb = GripperFeedback(FeedbackConfig(push_ticks=40), OPENS_UP)
    push = fb.step(1800, 5.0)
    assert push.torque and push.goal == 1840 and push.limit == 50
    assert fb.step(1750, 8.0).goal == 1840  # squeezing further: the anchor stays
    down = GripperFeedback(FeedbackConfig(push_ticks=40), OPENS_DOWN).step(2300, 5.0)
    assert down.goal == 2260  # this gripper opens toward lower ticks


def test_opening_past_the_goal_turns_torque_off_never_pulling_closed() -> None:
    fb = GripperFeedback(FeedbackConfig(push_ticks=40), OPENS_UP)
    assert fb.step(1800, 5.0).torque
    assert fb.step(1840, 5.0) == OFF
    assert fb.step(1900, 5.0) == OFF


def test_the_grasp_ending_turns_torque_off_and_forgets_the_anchor() -> None:
    fb = GripperFeedback(FeedbackConfig(push_ticks=40), OPENS_UP)
    fb.step(1800, 5.0)
    assert fb.step(1800, 0.0) == OFF
    assert fb.step(1600, 5.0).goal == 1640  # a new grasp: a new anchor


def test_the_goal_stays_inside_the_calibrated_range() -> None:
    fb = GripperFeedback(FeedbackConfig(push_ticks=40), OPENS_UP)
    assert fb.step(2490, 5.0).goal == 2500


def test_settings_that_could_yank_are_refused() -> None:
    with pytest.raises(LeaderConfigError, match="max_limit"):
        FeedbackConfig(max_limit=HARD_CAP + 1)
    with pytest.raises(LeaderConfigError, match="push_ticks"):
        FeedbackConfig(push_ticks=1000)
    with pytest.raises(LeaderConfigError, match="gain_per_n"):
        FeedbackConfig(gain_per_n=-1.0)
