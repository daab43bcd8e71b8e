"""Exceptions raised by the gamepad client.

Everything derives from :class:`teleop.errors.TeleopError`::

    TeleopError
    └── GamepadError      the gamepad client cannot go on
        ├── MappingError  a bad binding or setting, e.g. in a ``--mapping`` TOML file;
        │                 the message names the offending key
        └── PadError      pygame/SDL could not start its joystick support
"""

from __future__ import annotations

from teleop.errors import TeleopError


class GamepadError(TeleopError):
    """Root of the gamepad client's errors."""


class MappingError(GamepadError, ValueError):
    """A bad binding or setting; the message names the key and what is allowed."""


class PadError(GamepadError):
    """pygame/SDL could not start its joystick support."""
