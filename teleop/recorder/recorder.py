"""The :class:`Recorder`: what the server and the control loop talk to.

Threads:

- the control loop calls :meth:`Recorder.on_tick` every tick: it only puts the sample
  on a queue (no lock, no I/O, well under a microsecond when idle);
- ``start``, ``stop``, ``discard`` and ``close`` come from any other thread (the
  server's executor) and are serialized by a lock;
- per episode a capture thread and a journal thread run, plus the encoder process and
  its feeder thread for the recorder's lifetime (see ``docs/recording.md``).

When the capture fails (disk full, dead encoder) the episode is closed as incomplete on
a helper thread, :meth:`failed` reports why, and teleoperation is unaffected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from robots.base import Camera, RobotSpec
from teleop.recorder.columns import StationColumns
from teleop.recorder.dataset import Dataset
from teleop.recorder.encoder import EncoderProcess
from teleop.recorder.episode import EpisodeRecording, Finished
from teleop.recorder.errors import (
    RecorderError,
    RecorderInputError,
    RecorderIOError,
    RecorderStateError,
)
from teleop.recorder.model import (
    EpisodeSummary,
    RecorderConfig,
    RecordingStatus,
    TickSample,
    check_task,
)
from teleop.recorder.recover import recover_journals
from teleop.recorder.schema import build_features
from teleop.recorder.video import CANONICAL_TO_ENCODER, CodecProfile, resolve_codec

log = logging.getLogger(__name__)


class Recorder:
    """Records episodes from one robot into one LeRobot v3 dataset.

    Args:
        config: Where and how to record.
        spec: The robot; its joint names label the recorded vectors.
        cameras: The cameras to record, by name (usually ``robot.cameras``).

    Raises:
        RecorderInputError: The codec is missing from this PyAV build.
        RecorderIOError: The record directory cannot be written.
        DatasetError: The dataset exists with other features or fps, or is in use.
    """

    def __init__(
        self, config: RecorderConfig, spec: RobotSpec, cameras: Mapping[str, Camera]
    ) -> None:
        self.config = config
        self._cameras = sorted(cameras.items(), key=lambda item: _spec_order(spec, item[0]))
        self._lock = threading.Lock()
        self._episode: EpisodeRecording | None = None
        self._failed: str | None = None
        self._closed = False
        self.last_summary: EpisodeSummary | None = None
        self._dataset, self._codec = self._open(config, spec)
        try:
            if config.recover_on_open:
                self._recover_leftovers()
            self._encoder = EncoderProcess()
        except BaseException:
            self._dataset.close()
            raise

    def _recover_leftovers(self) -> None:
        """Publish the journals a killed server left; a failure is logged, not raised."""
        try:
            for summary in recover_journals(self._dataset):
                log.warning("recovered an interrupted episode as episode %d (%d rows, complete=%s)",
                            summary.episode_index, summary.length, summary.complete)  # fmt: skip
        except RecorderError as exc:
            log.error("could not recover the interrupted episodes in %s: %s",
                      self._dataset.journal_root, exc)  # fmt: skip

    def _open(self, config: RecorderConfig, spec: RobotSpec) -> tuple[Dataset, CodecProfile]:
        specs = [cam.spec for _, cam in self._cameras]
        robot_type = config.robot_type or spec.name
        existing = Dataset.peek_codec(config.root)
        choice = config.codec
        if choice == "auto" and existing is not None:
            choice = CANONICAL_TO_ENCODER.get(existing, "auto")
        try:
            codec = resolve_codec(choice)
        except ValueError as exc:
            raise RecorderInputError(str(exc)) from exc
        features = build_features(spec, specs, config.fps, codec.canonical)
        return Dataset(config.root, features, config.fps, robot_type), codec

    @property
    def dataset(self) -> Dataset:
        """The open dataset."""
        return self._dataset

    @property
    def encoder_pid(self) -> int | None:
        """Process id of the video encoder process (for monitoring)."""
        return self._encoder.pid

    @property
    def codec(self) -> CodecProfile:
        """The video codec in use."""
        return self._codec

    def start(self, task: str, operator: str) -> int:
        """Start recording an episode; returns its episode_index.

        Blocks until the encoder process has opened the videos: about 10 ms, up to 1 s
        for the first episode while the encoder process starts.

        Raises:
            RecorderStateError: Already recording, or the recorder is closed.
            RecorderInputError: The task text is empty or over 1,000 characters.
            RecorderIOError: The record directory cannot be written or is full.
        """
        check_task(task)
        with self._lock:
            if self._closed:
                raise RecorderStateError("the recorder is closed")
            if self._episode is not None:
                raise RecorderStateError(
                    f"already recording episode {self._episode.episode_index}; "
                    "stop or discard it first"
                )
            self._failed = None
            self._dataset.hold_reserve(self.config.reserve_bytes)
            if not self._encoder.alive:
                log.warning("the video encoder process had died; starting a new one")
                self._encoder.close()
                self._encoder = EncoderProcess()
            try:
                episode = EpisodeRecording(
                    config=self.config, dataset=self._dataset, encoder=self._encoder,
                    codec=self._codec, cameras=self._cameras, task=task, operator=str(operator),
                    on_failure=self._on_capture_failure,
                )  # fmt: skip
            except OSError as exc:
                raise RecorderIOError(
                    f"cannot write to {self._dataset.journal_root}: {exc.strerror or exc}"
                ) from exc
            self._episode = episode
            log.info("recording episode %d: %r", episode.episode_index, task)
            return episode.episode_index

    def on_tick(self, sample: TickSample) -> None:
        """Hand one control tick to the recorder. Never blocks; call it every tick."""
        episode = self._episode
        if episode is not None:
            episode.capture.ticks.put(sample)

    def stop(self, success: bool | None) -> EpisodeSummary:
        """Finish the episode: when this returns it is durable and loadable.

        Args:
            success: The operator's verdict (None: not given).

        Raises:
            RecorderStateError: Not recording (or the recording already failed).
            RecorderIOError: Writing the episode failed; it stays in the journal for
                ``teleop recover``.
        """
        t_stop = time.monotonic_ns()
        with self._lock:
            episode = self._take_episode("stop")
            try:
                return self._finish(episode, t_stop, success, "stop")
            except RecorderIOError as exc:
                self._failed = str(exc)
                raise

    def discard(self) -> None:
        """Drop the episode being recorded; nothing is written to the dataset.

        Raises:
            RecorderStateError: Not recording.
        """
        with self._lock:
            episode = self._take_episode("discard")
            episode.abort()
            log.info("discarded episode %d", episode.episode_index)

    @property
    def status(self) -> RecordingStatus:
        """What ``state.recording`` shows."""
        episode = self._episode
        if episode is None:
            return RecordingStatus(active=False)
        elapsed = (time.monotonic_ns() - episode.t_start_ns) / 1e9
        return RecordingStatus(True, episode.episode_index, elapsed, episode.frames)

    def failed(self) -> str | None:
        """Why the last recording died (e.g. disk full), until the next ``start()``."""
        return self._failed

    def close(self) -> None:
        """Finish an episode in progress (as incomplete), stop the encoder, unlock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            episode, self._episode = self._episode, None
            try:
                if episode is not None:
                    self._finish(episode, time.monotonic_ns(), None, "closed")
            except RecorderError as exc:
                log.error("closing the recorder: %s", exc)
            finally:
                self._encoder.close()
                self._dataset.release_reserve()
                self._dataset.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _take_episode(self, what: str) -> EpisodeRecording:
        episode, self._episode = self._episode, None
        if episode is None:
            why = f" (the last recording failed: {self._failed})" if self._failed else ""
            raise RecorderStateError(f"cannot {what}: not recording{why}")
        return episode

    def _finish(self, episode: EpisodeRecording, t_stop: int, success: bool | None,
                reason: str) -> EpisodeSummary:  # fmt: skip
        """Publish an episode (lock held).

        Raises:
            RecorderStateError: The episode has no rows (its journal is removed).
            RecorderIOError: Closing or writing it failed; its journal stays for recovery.
        """
        end = {"success": success, "reason": reason} if reason == "stop" else None
        try:
            finished = episode.finish(t_stop, end)
            if not finished.output.rows:
                episode.remove_journal()
                raise RecorderStateError(_no_rows_reason(episode, finished))
            complete = reason == "stop" and finished.error is None and finished.rows_lost == 0
            if finished.error is not None:
                reason = f"failed: {finished.error}"
            finished.output.station = StationColumns.build(
                episode.header, episode.capture.counts, finished.output.rows,
                rows_lost=finished.rows_lost, complete=complete, success=success,
                stop_reason=reason,
            )  # fmt: skip
            index = self._publish(finished)
        except RecorderIOError as exc:
            raise RecorderIOError(
                f"{exc}; the episode stays in {episode.dir}: run `teleop recover` once fixed"
            ) from exc
        episode.remove_journal()
        return self._summary(episode, finished, index, t_stop)

    def _summary(
        self, episode: EpisodeRecording, finished: Finished, index: int, t_stop: int
    ) -> EpisodeSummary:
        station, n = finished.output.station, len(finished.output.rows)
        assert station is not None  # stop() fills it in before publishing
        counts = episode.capture.counts
        summary = EpisodeSummary(
            episode_index=index, length=n, duration_s=n / self.config.fps,
            complete=station.complete, success=station.success, task=episode.task,
            stop_reason=station.stop_reason, counts=counts, control_hz=counts.control_hz(),
            record_hz=station.record_hz, rows_lost=finished.rows_lost,
            finalize_s=(time.monotonic_ns() - t_stop) / 1e9, encode_fps=finished.encode_fps,
        )  # fmt: skip
        self.last_summary = summary
        log.info("episode %d written: %d rows, complete=%s, %.3f s after stop",
                 index, n, summary.complete, summary.finalize_s)  # fmt: skip
        return summary

    def _publish(self, finished: Finished) -> int:
        try:
            return self._dataset.publish(finished.output)
        except RecorderIOError:
            if not self._dataset.release_reserve():
                raise
            log.warning("disk full while publishing; released the reserve and retrying")
            return self._dataset.publish(finished.output)

    def _on_capture_failure(self, message: str) -> None:
        """Called by the capture thread; salvages the episode on a helper thread."""
        log.error("recording failed: %s", message)
        self._failed = message
        threading.Thread(target=self._salvage, name="recorder-salvage", daemon=True).start()

    def _salvage(self) -> None:
        with self._lock:
            episode = self._episode
            if episode is None or episode.capture.failure is None:
                return  # stop() or discard() got there first
            self._episode = None
            self._dataset.release_reserve()
            cause = self._failed
            try:
                summary = self._finish(episode, time.monotonic_ns(), None, "failed")
            except RecorderError as exc:
                log.error("could not salvage the failed episode: %s", exc)
                self._failed = f"{cause}; recording stopped: {exc}"
            else:
                self._failed = (
                    f"{cause}; recording stopped, episode {summary.episode_index} "
                    f"kept as incomplete ({summary.length} rows)"
                )


def _no_rows_reason(episode: EpisodeRecording, finished: Finished) -> str:
    """Why an episode ended with nothing to publish, in the operator's terms."""
    taken = episode.frames
    if taken and finished.error is not None:
        return (
            f"episode {episode.episode_index} lost: none of its {taken} rows had their video "
            f"frames on disk before the failure; nothing was written"
        )
    if taken:
        return f"the episode's {taken} rows have no video frames; nothing was written"
    return (
        "the episode has no rows: no control ticks arrived (is the control loop "
        "calling on_tick?) or it was stopped at once; nothing was written"
    )


def _spec_order(spec: RobotSpec, name: str) -> int:
    names = [c.name for c in spec.cameras]
    return names.index(name) if name in names else len(names)
