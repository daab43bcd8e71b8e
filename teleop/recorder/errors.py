"""Exceptions raised by ``teleop.recorder``.

Every error the recorder raises on purpose derives from :class:`RecorderError`, itself a
:class:`teleop.errors.TeleopError`. ``OSError`` from the disk, PyAV and pyarrow errors
are translated where they happen, with ``raise ... from exc``::

    RecorderError
    ├── RecorderStateError   start while recording; stop or discard while idle; use after close
    ├── RecorderInputError   a bad task text or config value (also a ValueError)
    ├── DatasetError         the dataset on disk cannot take these episodes: other features
    │                        or fps, damaged metadata, or locked by another process
    ├── RecorderIOError      a write failed: record dir not writable, disk full, encoder died
    └── JournalError         a journal that cannot be turned into an episode
"""

from __future__ import annotations

from teleop.errors import TeleopError


class RecorderError(TeleopError):
    """Root of every error raised by the recorder."""


class RecorderStateError(RecorderError):
    """The call does not fit the recorder's state (e.g. ``stop()`` while idle)."""


class RecorderInputError(RecorderError, ValueError):
    """A task text or a config value is out of range; the message says what is allowed."""


class DatasetError(RecorderError):
    """The dataset at the record path cannot take these episodes, or is in use."""


class RecorderIOError(RecorderError):
    """Writing the recording failed (permissions, disk full, a dead encoder)."""


class JournalError(RecorderError):
    """A leftover journal cannot be read or holds nothing to recover."""
