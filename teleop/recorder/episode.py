"""One episode in progress: its journal directory, capture thread and video streams.

Files of an episode in progress, in ``<root>/journal/<started>-<uuid>/``:
``rows.msgpack`` (the journal) and ``<camera>.mp4`` (fragmented MP4, one per camera).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from robots.base import Camera
from teleop.recorder.capture import CaptureSetup, CaptureWorker
from teleop.recorder.dataset import Dataset, EpisodeOutput
from teleop.recorder.encoder import EncoderProcess, StreamResult, StreamSpec
from teleop.recorder.errors import RecorderIOError
from teleop.recorder.journal import JOURNAL_NAME, JournalWriter
from teleop.recorder.model import RecorderConfig
from teleop.recorder.stats import Stats, image_stats
from teleop.recorder.video import CodecProfile, count_frames, remux

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Finished:
    """An episode whose capture ended and whose videos are remuxed, ready to publish.

    Attributes:
        output: What to publish (``station`` still to be filled in).
        rows_lost: Rows taken but without their video frames (cut off).
        error: Why the capture failed, if it did.
        encode_fps: Frames encoded per CPU-second of the encoder process.
    """

    output: EpisodeOutput
    rows_lost: int
    error: str | None
    encode_fps: float


class EpisodeRecording:
    """Starts the journal, the video streams and the capture thread of one episode.

    Raises (from the constructor; the journal directory is removed again):
        OSError: The journal directory or file cannot be written.
        RecorderIOError: The encoder could not open the video streams.
    """

    def __init__(
        self,
        *,
        config: RecorderConfig,
        dataset: Dataset,
        encoder: EncoderProcess,
        codec: CodecProfile,
        cameras: Sequence[tuple[str, Camera]],
        task: str,
        operator: str,
        on_failure: Callable[[str], None],
    ) -> None:
        self.uuid = uuid.uuid4().hex
        self.task = task
        self.episode_index = dataset.next_index
        self._dataset, self._encoder, self._cameras = dataset, encoder, list(cameras)
        self._remux_pending = False
        started = datetime.datetime.now(datetime.UTC)
        self.dir = dataset.journal_root / f"{started:%Y%m%dT%H%M%S}-{self.uuid[:12]}"
        self.dir.mkdir()
        self.header = self._header(config, codec, operator, started)
        try:
            self.journal = self._open_streams(config, codec)
        except BaseException:
            remove_journal(self.dir)
            raise
        # Rows are due from now on: the encoder is ready (its first start can take 1 s).
        self.t_start_ns = time.monotonic_ns()
        period = int(1e9 / config.fps)
        setup = CaptureSetup(
            fps=config.fps, t_start_ns=self.t_start_ns, cameras=self._cameras,
            frame_wait_ns=int(config.frame_wait_s * 1e9), stats_every=config.stats_every,
            max_backlog=int(config.max_backlog_s * config.fps) * max(1, len(self._cameras)),
            first_frame_timeout_ns=max(3_000_000_000, 10 * period),
        )  # fmt: skip
        self.capture = CaptureWorker(setup, self.journal, encoder, on_failure)
        self.capture.start()

    def _open_streams(self, config: RecorderConfig, codec: CodecProfile) -> JournalWriter:
        journal = JournalWriter(self.dir / JOURNAL_NAME, self.header, config.flush_interval_s)
        try:
            streams = [StreamSpec(n, self.dir / f"{n}.mp4", c.spec.width, c.spec.height)
                       for n, c in self._cameras]  # fmt: skip
            self._encoder.begin(streams, config.fps, codec)
        except BaseException:
            journal.close()
            raise
        return journal

    def _header(self, config: RecorderConfig, codec: CodecProfile, operator: str,
                started: datetime.datetime) -> dict[str, Any]:  # fmt: skip
        return {
            "uuid": self.uuid, "task": self.task, "operator": operator,
            "fps": config.fps, "control_hz": config.control_hz, "codec": codec.encoder,
            "cameras": [n for n, _ in self._cameras], "features": self._dataset.features,
            "robot_type": self._dataset.meta.info.get("robot_type", ""),
            "station_id": config.station_id, "software_version": config.software_version,
            "started_at": started.isoformat(), "stats_every": config.stats_every,
        }  # fmt: skip

    @property
    def frames(self) -> int:
        """Rows taken so far."""
        return len(self.capture.rows)

    def finish(self, t_stop_ns: int, end: dict[str, Any] | None) -> Finished:
        """End the capture, close the videos and remux them to the dataset's temp paths.

        Args:
            t_stop_ns: Ticks after this time are not recorded.
            end: The journal's end record (None when the episode is failing).

        Raises:
            RecorderIOError: The encoder process did not answer.
        """
        self.capture.stop(t_stop_ns)
        t_captured = time.monotonic_ns()
        backlog = self._encoder.backlog
        try:
            results = self._encoder.finish()
        except RecorderIOError:
            self.journal.close()  # what was journaled stays, for `teleop recover`
            raise
        t_encoded = time.monotonic_ns()
        error = self.capture.failure or next((r.error for r in results if r.error), None)
        rows = self.capture.rows
        n = min([len(rows)] + [r.frames for r in results])
        names = [name for name, _ in self._cameras]
        if error is not None:  # a write may have failed: count what is wholly on disk
            n = min([n] + [count_frames(self.dir / f"{name}.mp4") for name in names])
        jobs = [(self.dir / f"{name}.mp4", self._dataset.video_temp(name), n) for name in names]
        self._remux_pending = bool(n and jobs)
        if self._remux_pending:
            self._encoder.start_remux(jobs)  # runs while the journal closes and data is written
        log.debug(
            "finish: capture drained in %.3f s, encoder backlog %d flushed in %.3f s",
            (t_captured - t_stop_ns) / 1e9, backlog, (t_encoded - t_captured) / 1e9,
        )  # fmt: skip
        if end is not None and error is None:
            self.journal.append("end", end)
        self.journal.close()
        error = error or self.journal.error
        output = EpisodeOutput(
            uuid=self.uuid, task=self.task, rows=rows[:n], cameras=names,
            videos={name: job[1] for name, job in zip(names, jobs, strict=True)},
            image_stats=_image_stats(names, results),
            videos_ready=self._remux_waiter(jobs, n),
        )  # fmt: skip
        return Finished(output, len(rows) - n, error, _encode_fps(results))

    def _remux_waiter(self, jobs: list[tuple[Path, Path, int]], n: int) -> Callable[[], int]:
        """A function that waits for the remux (once) and returns the frames written.

        If the encoder process's remux failed (e.g. the disk was full before the reserve
        was released), a later call remuxes again, in this process.
        """
        done: list[int] = []

        def wait() -> int:
            if done:
                return done[0]
            if not jobs or not n:
                done.append(n)
            elif self._remux_pending:
                self._remux_pending = False
                done.append(min(self._encoder.wait_remux()))
            else:
                done.append(min(remux(src, dst, k) for src, dst, k in jobs))
            return done[0]

        return wait

    def remove_journal(self) -> None:
        """Delete the journal directory (the episode is published or worthless)."""
        remove_journal(self.dir)

    def abort(self) -> None:
        """Stop everything and delete the journal directory (discard)."""
        self.capture.stop(time.monotonic_ns())
        try:
            self._encoder.finish()
        except RecorderIOError as exc:  # a dead encoder: the episode goes all the same
            log.warning("discarding episode %d: %s", self.episode_index, exc)
        finally:
            self.journal.close()
            remove_journal(self.dir)


def _image_stats(names: list[str], results: list[StreamResult]) -> dict[str, Stats]:
    return {
        name: image_stats(r.histogram, r.sampled)
        for name, r in zip(names, results, strict=True)
        if r.sampled > 0
    }


def _encode_fps(results: list[StreamResult]) -> float:
    """Frames encoded per CPU-second of the encoder process (0 if unmeasured)."""
    cpu_s = results[0].cpu_s if results else 0.0
    return sum(r.frames for r in results) / cpu_s if cpu_s > 0 else 0.0


def remove_journal(path: Path) -> None:
    """Delete a published or discarded episode's journal directory."""
    shutil.rmtree(path, ignore_errors=True)
