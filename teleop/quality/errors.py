"""Exceptions raised by ``teleop.quality``.

Every error the quality package raises on purpose derives from :class:`QualityError`,
itself a :class:`teleop.errors.TeleopError`. pyarrow, PyAV, JSON and ``OSError`` failures
are translated where a file is read, with ``raise ... from exc``, and the message names
the file and the episode::

    QualityError
    ├── DatasetReadError   no dataset at the path, or a file that is missing, truncated or
    │                      unreadable (the message names it)
    └── ThresholdsError    a threshold out of range, an unknown name, or a thresholds file
                           that cannot be read (also a ConfigError, hence a ValueError)
"""

from __future__ import annotations

from teleop.errors import ConfigError, TeleopError


class QualityError(TeleopError):
    """Root of every error raised by the quality checks."""


class DatasetReadError(QualityError):
    """A dataset, or one of an episode's files, cannot be read; the message names it."""


class ThresholdsError(QualityError, ConfigError):
    """A threshold is out of range or unknown; the message names it and its bounds."""
