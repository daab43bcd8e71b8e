"""The recorder's value types: what the control loop hands in, what the server reads back.

Times are nanoseconds on ``time.monotonic_ns()``; rates are in [Hz]; durations in [s].
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from robots.base import RobotState
from teleop.recorder.errors import RecorderInputError

CODEC_CHOICES = ("auto", "libsvtav1", "libx264")
MAX_TASK_CHARS = 1000


@dataclasses.dataclass(frozen=True)
class TickSample:
    """One control tick, produced by the control-loop thread.

    Attributes:
        t_ns: Tick time in [ns], ``time.monotonic_ns()``.
        state: Measured this tick (``state.t_ns`` is the capture time of the state).
        action: Joint target actually sent this tick, after safety, shape ``(spec.dof,)``.
        requested: What the operator asked for, shape ``(spec.dof,)``.
        t_command_ns: Server receive time in [ns] of the command in force; None: none yet.
        clamped: The safety filter changed or held the request this tick.
        late: This tick overran its deadline.
    """

    t_ns: int
    state: RobotState
    action: np.ndarray
    requested: np.ndarray
    t_command_ns: int | None
    clamped: bool
    late: bool


@dataclasses.dataclass(frozen=True)
class RecorderConfig:
    """Where and how episodes are recorded. Checked on construction.

    Attributes:
        root: The dataset directory, ``<record-dir>/<dataset>``.
        fps: Dataset frame rate in [frames/s]: rows and video frames per second.
        control_hz: The control loop's nominal rate in [Hz], for the achieved-rate metadata.
        codec: ``"auto"``, ``"libsvtav1"`` or ``"libx264"`` (see ``docs/recording.md``).
        robot_type: Written to ``info.json`` and each episode; defaults to the spec's name.
        station_id: This station's id, written to each episode.
        software_version: The station software's version, written to each episode.
        flush_interval_s: Journal flush + fsync period in [s], at most 0.5.
        frame_wait_s: How long in [s] a row waits for a camera frame captured at or after
            its state before it takes the newest earlier frame.
        reserve_bytes: Disk space in [bytes] held back while recording, released to close
            an episode when the disk fills up.
        stats_every: Every n-th row's camera frames feed the image statistics.
        max_backlog_s: Encoder backlog in [s] of video beyond which the recording fails
            (memory is finite); frames are never dropped before that.
        recover_on_open: Turn leftover journals into incomplete episodes when opening.
    """

    root: Path
    fps: int = 30
    control_hz: float = 100.0
    codec: str = "auto"
    robot_type: str = ""
    station_id: str = ""
    software_version: str = ""
    flush_interval_s: float = 0.25
    frame_wait_s: float = 0.2
    reserve_bytes: int = 32 * 2**20
    stats_every: int = 5
    max_backlog_s: float = 20.0
    recover_on_open: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or not 1 <= self.fps <= 1000:
            raise RecorderInputError(f"fps must be an int in [1, 1000], got {self.fps!r}")
        if not self.control_hz > 0:
            raise RecorderInputError(f"control_hz must be > 0 Hz, got {self.control_hz}")
        if self.codec not in CODEC_CHOICES:
            raise RecorderInputError(
                f"codec {self.codec!r} unknown; use one of {', '.join(CODEC_CHOICES)}"
            )
        if not 0 < self.flush_interval_s <= 0.5:
            raise RecorderInputError(
                f"flush_interval_s must be in (0, 0.5] s, got {self.flush_interval_s}"
            )
        if not 0 < self.frame_wait_s <= 5:
            raise RecorderInputError(f"frame_wait_s must be in (0, 5] s, got {self.frame_wait_s}")
        if self.reserve_bytes < 0 or self.stats_every < 1 or self.max_backlog_s <= 0:
            raise RecorderInputError(
                "reserve_bytes must be >= 0, stats_every >= 1 and max_backlog_s > 0"
            )


def check_task(task: object) -> str:
    """Validate an episode's task text.

    Raises:
        RecorderInputError: Not a string, blank, or longer than 1,000 characters.
    """
    if not isinstance(task, str):
        raise RecorderInputError(f"task must be a string, got {type(task).__name__}")
    if not task.strip():
        raise RecorderInputError("task text is empty; describe the task, e.g. 'pick up the cube'")
    if len(task) > MAX_TASK_CHARS:
        raise RecorderInputError(
            f"task text has {len(task)} characters; the limit is {MAX_TASK_CHARS}"
        )
    return task


@dataclasses.dataclass(frozen=True)
class RecordingStatus:
    """What ``state.recording`` reports.

    Attributes:
        active: An episode is being recorded.
        episode_index: Index of the episode being recorded (None when idle).
        elapsed_s: Time since ``start()`` in [s] (0 when idle).
        frames: Rows (= video frames per camera) taken so far.
    """

    active: bool
    episode_index: int | None = None
    elapsed_s: float = 0.0
    frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for the wire."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class EpisodeCounts:
    """What happened during one episode; every field is written to its metadata.

    Attributes:
        ticks: Control ticks seen while recording.
        late_ticks: Ticks that overran their deadline.
        clamped_ticks: Ticks on which the safety filter changed or held the request.
        first_tick_ns: Time of the first tick in [ns] (0: none).
        last_tick_ns: Time of the last tick in [ns] (0: none).
        row_gaps: Row slots (1/fps each) that no control tick fell into: skipped.
        late_rows: Rows taken more than half a row period after their slot time.
        frame_repeats: Per camera, rows that reused the previous row's frame.
        frame_drops: Per camera, captured frames that no row used (from ``Frame.seq``).
        max_skew_ns: Per camera, the largest ``|t_frame_ns - t_state_ns|`` in [ns].
    """

    ticks: int = 0
    late_ticks: int = 0
    clamped_ticks: int = 0
    first_tick_ns: int = 0
    last_tick_ns: int = 0
    row_gaps: int = 0
    late_rows: int = 0
    frame_repeats: dict[str, int] = dataclasses.field(default_factory=dict)
    frame_drops: dict[str, int] = dataclasses.field(default_factory=dict)
    max_skew_ns: dict[str, int] = dataclasses.field(default_factory=dict)

    def control_hz(self) -> float:
        """Achieved control rate in [Hz] over the episode (0 with fewer than two ticks)."""
        span = self.last_tick_ns - self.first_tick_ns
        return (self.ticks - 1) * 1e9 / span if self.ticks > 1 and span > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for the journal and JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeCounts:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass(frozen=True)
class EpisodeSummary:
    """A finished episode, as written to the dataset.

    Attributes:
        episode_index: Its index in the dataset.
        length: Rows (= video frames per camera).
        duration_s: ``length / fps`` in [s].
        complete: False when the episode was cut short (crash, disk full, closed).
        success: The operator's verdict, or None.
        task: The task text.
        stop_reason: ``"stop"``, ``"recovered"``, ``"closed"`` or ``"failed: ..."``.
        counts: Ticks, gaps, repeats and drops.
        control_hz: Achieved control rate in [Hz].
        record_hz: Achieved record rate in [Hz]: rows per second of recording.
        rows_lost: Rows taken but not kept (no matching video frame survived).
        finalize_s: Time in [s] from the stop request to the durable episode.
        encode_fps: Video frames encoded per CPU-second of the encoder process.
    """

    episode_index: int
    length: int
    duration_s: float
    complete: bool
    success: bool | None
    task: str
    stop_reason: str
    counts: EpisodeCounts
    control_hz: float
    record_hz: float
    rows_lost: int = 0
    finalize_s: float = 0.0
    encode_fps: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, e.g. for a ``record`` reply."""
        return dataclasses.asdict(self)
