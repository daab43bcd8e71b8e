"""Exceptions raised by the ``robots`` package, rooted in :class:`RobotError`.

Foreign exceptions (``serial.SerialException``, ``pybullet.error``, ``OSError``) are
translated where they enter, with ``raise ... from exc``. The tree (backends add their
own below ``RobotConfigError`` and ``RobotIOError``: see ``robots/serial/errors.py`` and
``robots/kinematics/__init__.py``)::

    RobotError
    ├── NotConnectedError       read/command before connect(), or after disconnect()
    ├── CommandError            a command that was refused; the robot did not move
    │   ├── CommandShapeError   wrong length or not a 1-D vector
    │   └── NonFiniteCommandError  NaN or ±inf in a command
    ├── RobotConfigError        a bad option, asset or calibration file
    └── RobotIOError            the link to the robot failed (bus, renderer process)
"""

from __future__ import annotations


class RobotError(Exception):
    """Root of every error raised by the ``robots`` package."""


class NotConnectedError(RobotError):
    """The robot is not connected: call ``connect()`` or use it as a context manager."""


class CommandError(RobotError):
    """A command was refused before anything reached the robot."""


class CommandShapeError(CommandError):
    """A command vector has the wrong length or shape."""


class NonFiniteCommandError(CommandError):
    """A command vector holds NaN or ±inf."""


class RobotConfigError(RobotError):
    """A robot option, asset or calibration file is wrong or missing."""


class RobotIOError(RobotError):
    """Talking to the robot failed: a bus timeout, a closed port, a dead renderer."""
