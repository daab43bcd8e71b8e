"""Exceptions raised by the leader-arm client.

Everything derives from :class:`teleop.errors.TeleopError`::

    TeleopError
    └── LeaderError          the leader client cannot go on
        └── LeaderConfigError  the leader's calibration does not fit the follower (joint
                               names), or a setting is out of range; the message names
                               the fix

Faults of the leader's own bus are ``robots.base.RobotIOError`` subclasses from
``robots.serial``; the client shows them and recovers, it never raises them out.
"""

from __future__ import annotations

from teleop.errors import TeleopError


class LeaderError(TeleopError):
    """Root of the leader client's errors."""


class LeaderConfigError(LeaderError, ValueError):
    """A calibration that does not fit the follower, or a bad setting."""
