"""The episode recorder: synchronized, crash-safe episodes written as LeRobot v3 datasets.

The control loop hands every tick to :meth:`Recorder.on_tick`; rows are taken at the
dataset fps, matched to camera frames by capture time, journaled while recording and
published as one parquet file plus one MP4 per camera when the episode stops.
``docs/recording.md`` describes the layout and every column.
"""

from teleop.recorder.errors import (
    DatasetError,
    JournalError,
    RecorderError,
    RecorderInputError,
    RecorderIOError,
    RecorderStateError,
)
from teleop.recorder.model import (
    EpisodeCounts,
    EpisodeSummary,
    RecorderConfig,
    RecordingStatus,
    TickSample,
)
from teleop.recorder.recorder import Recorder
from teleop.recorder.recover import recover_path

__all__ = [
    "DatasetError",
    "EpisodeCounts",
    "EpisodeSummary",
    "JournalError",
    "Recorder",
    "RecorderConfig",
    "RecorderError",
    "RecorderIOError",
    "RecorderInputError",
    "RecorderStateError",
    "RecordingStatus",
    "TickSample",
    "recover_path",
]
