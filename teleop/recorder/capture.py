"""The capture thread: control ticks and camera frames in, rows, journal and video out.

One thread per episode. At 4x the frame rate it polls each camera's ``latest()``
(which never blocks), drains the ticks that the control loop queued, takes rows on the
ticks that :class:`~teleop.recorder.rows.RowClock` picks, matches each row to the
nearest frames, and hands the row to the journal and the frames to the encoder
process. It never writes to disk itself, so a slow disk cannot stall the matching.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from robots.base import Camera
from teleop.recorder.encoder import EncoderProcess
from teleop.recorder.journal import JournalWriter
from teleop.recorder.model import EpisodeCounts, TickSample
from teleop.recorder.rows import FrameChoice, FrameMatcher, Row, RowClock

log = logging.getLogger(__name__)

COUNTS_PERIOD_NS = 250_000_000
"""How often the running counters go to the journal, in [ns]."""


@dataclasses.dataclass(frozen=True)
class CaptureSetup:
    """How one episode is captured.

    Attributes:
        fps: Rows per second.
        t_start_ns: Due time of the first row in [ns].
        cameras: ``(name, camera)`` pairs, in recorder order.
        frame_wait_ns: How long a row waits for a frame at or after its state time, [ns].
        stats_every: Every n-th row's frames are sampled for image statistics.
        max_backlog: Frames queued for the encoder beyond which the episode fails.
        first_frame_timeout_ns: How long in [ns] a camera may stay silent at the start.
    """

    fps: int
    t_start_ns: int
    cameras: Sequence[tuple[str, Camera]]
    frame_wait_ns: int
    stats_every: int
    max_backlog: int
    first_frame_timeout_ns: int = 3_000_000_000


class CaptureWorker:
    """Turns ticks and frames into rows for one episode, on its own thread.

    Args:
        setup: Rates, cameras and limits.
        journal: Where rows and counters go.
        encoder: Where frames go (its streams are open, in camera order).
        on_failure: Called once, from this thread, if the capture fails (disk full,
            encoder error, silent camera); it must not block.
    """

    def __init__(
        self,
        setup: CaptureSetup,
        journal: JournalWriter,
        encoder: EncoderProcess,
        on_failure: Callable[[str], None],
    ) -> None:
        self.setup = setup
        self.ticks: queue.SimpleQueue[TickSample] = queue.SimpleQueue()
        self.rows: list[Row] = []
        names = [name for name, _ in setup.cameras]
        self.counts = EpisodeCounts(
            frame_repeats=dict.fromkeys(names, 0),
            frame_drops=dict.fromkeys(names, 0),
            max_skew_ns=dict.fromkeys(names, 0),
        )
        self.failure: str | None = None
        self._journal = journal
        self._encoder = encoder
        self._on_failure = on_failure
        self._clock = RowClock(setup.t_start_ns, setup.fps)
        history = max(64, int(2 * max((c.spec.fps for _, c in setup.cameras), default=30)))
        self._matchers = [FrameMatcher(history) for _ in setup.cameras]
        self._pending: deque[Row] = deque()
        self._stop_at: int | None = None
        self._wake = threading.Event()
        self._last_counts_ns = setup.t_start_ns
        # Poll at 4x the fastest of the row and camera rates: no frame goes unseen.
        fastest = max([setup.fps] + [c.spec.fps for _, c in setup.cameras])
        self._poll_s = min(0.010, max(0.002, 1.0 / (4 * fastest)))
        self._thread = threading.Thread(target=self._run, name="recorder-capture", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, t_stop_ns: int, timeout_s: float = 10.0) -> None:
        """Take rows for ticks up to ``t_stop_ns``, match their frames, then end the thread."""
        self._stop_at = t_stop_ns
        self._wake.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.failure = self.failure or f"capture thread did not finish within {timeout_s} s"

    def _run(self) -> None:
        try:
            while not self._cycle(time.monotonic_ns()):
                self._wake.wait(self._poll_s)
                self._wake.clear()
        except Exception as exc:
            log.exception("recorder capture thread failed")
            self.failure = f"recorder capture failed: {exc!r}"
        self._journal.append("counts", self.counts.to_dict())
        if self.failure is not None:
            self._on_failure(self.failure)

    def _cycle(self, now_ns: int) -> bool:
        """One pass; returns True when the thread should end."""
        for matcher, (_, camera) in zip(self._matchers, self.setup.cameras, strict=True):
            matcher.offer(camera.latest())
        self._take_ticks()
        self._resolve(now_ns)
        self.failure = self.failure or self._health(now_ns)
        if now_ns - self._last_counts_ns >= COUNTS_PERIOD_NS:
            self._journal.append("counts", self.counts.to_dict())
            self._last_counts_ns = now_ns
        if self.failure is not None:
            return True
        return self._stop_at is not None and self.ticks.empty() and not self._pending

    def _take_ticks(self) -> None:
        counts = self.counts
        while True:
            try:
                sample = self.ticks.get_nowait()
            except queue.Empty:
                return
            if sample.t_ns < self.setup.t_start_ns or (
                self._stop_at is not None and sample.t_ns > self._stop_at
            ):
                continue
            counts.ticks += 1
            counts.late_ticks += sample.late
            counts.clamped_ticks += sample.clamped
            counts.first_tick_ns = counts.first_tick_ns or sample.t_ns
            counts.last_tick_ns = sample.t_ns
            slot = self._clock.take(sample.t_ns)
            if slot is not None:
                counts.row_gaps += slot.skipped
                counts.late_rows += slot.late
                self._pending.append(Row.from_tick(sample))

    def _resolve(self, now_ns: int) -> None:
        """Give pending rows their frames, oldest first, as far as they are decidable."""
        while self._pending:
            row = self._pending[0]
            choices: list[FrameChoice] = []
            for matcher in self._matchers:
                choice = matcher.choose(row.t_state_ns, now_ns, self.setup.frame_wait_ns)
                if choice is None:
                    return
                choices.append(choice)
            self._pending.popleft()
            self._emit(row.with_frames(choices), choices)

    def _emit(self, row: Row, choices: list[FrameChoice]) -> None:
        sample = len(self.rows) % self.setup.stats_every == 0
        self.rows.append(row)
        self._journal.append("row", row.to_record())
        counts = self.counts
        for i, (matcher, choice) in enumerate(zip(self._matchers, choices, strict=True)):
            matcher.accept(choice)
            name, camera = self.setup.cameras[i]
            expected = (camera.spec.height, camera.spec.width, 3)
            if choice.frame.image.shape != expected:
                self.failure = (
                    f"camera '{name}' sent a frame of shape {choice.frame.image.shape}, "
                    f"expected {expected}"
                )
                return
            self._encoder.put(i, choice.frame.image, sample)
            counts.frame_repeats[name] += choice.repeat
            counts.frame_drops[name] += choice.dropped
            skew = abs(choice.frame.t_ns - row.t_state_ns)
            counts.max_skew_ns[name] = max(counts.max_skew_ns[name], skew)

    def _health(self, now_ns: int) -> str | None:
        if self._journal.error is not None:
            return f"writing the journal failed: {self._journal.error}"
        error = self._encoder.poll()
        if error is not None:
            return f"video encoding failed: {error}"
        if self._encoder.backlog > self.setup.max_backlog:
            return (
                f"the video encoder fell {self._encoder.backlog} frames behind; "
                "record with --codec libx264 or fewer cameras"
            )
        if now_ns - self.setup.t_start_ns > self.setup.first_frame_timeout_ns:
            for matcher, (name, _) in zip(self._matchers, self.setup.cameras, strict=True):
                if not matcher.has_frames:
                    return f"camera '{name}' delivered no frame; check the camera"
        return None
