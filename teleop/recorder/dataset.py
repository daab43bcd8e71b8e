"""A LeRobot v3 dataset on disk that episodes are appended to, one file per episode.

Layout (see ``docs/recording.md``)::

    <root>/meta/info.json, stats.json, tasks.parquet, episodes/chunk-000/file-000.parquet
    <root>/data/chunk-CCC/file-FFF.parquet          one per episode
    <root>/videos/<key>/chunk-CCC/file-FFF.mp4      one per episode and camera
    <root>/journal/                                 episodes in progress, the lock, reserve

Only one process at a time writes a dataset: :class:`Dataset` holds an exclusive
``flock`` on ``journal/.lock`` (released by the kernel even on ``kill -9``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from teleop.recorder import atomic
from teleop.recorder.columns import StationColumns
from teleop.recorder.errors import DatasetError, RecorderIOError, RecorderStateError
from teleop.recorder.meta import INFO, DatasetMeta, chunk_file
from teleop.recorder.rows import Row
from teleop.recorder.schema import Features, camera_key, features_mismatch
from teleop.recorder.stats import Stats
from teleop.recorder.table import columns_stats, episode_columns, to_table

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
RESERVE_NAME = "reserve.bin"


@dataclasses.dataclass
class EpisodeOutput:
    """Everything needed to publish one episode.

    Attributes:
        uuid: The episode's unique id (also in its journal header).
        task: Task text.
        rows: The rows to keep, in order; as many as each video has frames.
        cameras: Camera names, in the order of ``Row.frame_t_ns``.
        videos: Camera name -> its finished MP4, written at :meth:`Dataset.video_temp`.
        image_stats: Camera name -> per-channel statistics.
        station: The ``station/*`` columns; filled in once the capture has ended.
        videos_ready: Waits until the videos are written; returns their frame count.
    """

    uuid: str
    task: str
    rows: list[Row]
    cameras: list[str]
    videos: dict[str, Path]
    image_stats: dict[str, Stats]
    station: StationColumns | None = None
    videos_ready: Callable[[], int] | None = None


def _writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecorderIOError(
            f"cannot create the record directory {path}: {exc.strerror or exc}; "
            "choose a writable --record-dir"
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise RecorderIOError(
            f"record directory {path} is not writable; choose another --record-dir"
        )


class DatasetLock:
    """An exclusive ``flock`` on ``<root>/journal/.lock``; a context manager.

    Raises:
        DatasetError: Another process holds it.
    """

    def __init__(self, root: Path) -> None:
        path = Path(root) / JOURNAL_DIR / ".lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatasetError(
                f"dataset {root} is in use by another process (pid {holder}); "
                "stop it or record into another --dataset"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Unlock (idempotent)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Dataset:
    """An open, locked dataset. Use as a context manager (or call :meth:`close`).

    Args:
        root: The dataset directory (created if missing).
        features: The features this writer records; None to open an existing dataset as
            it is (recovery).
        fps: Dataset frame rate (checked against an existing dataset).
        robot_type: For a new dataset's ``info.json``.

    Raises:
        RecorderIOError: ``root`` cannot be created or written.
        DatasetError: Another process holds the dataset, or its fps or features differ.
    """

    def __init__(
        self, root: Path, features: Features | None, fps: int | None, robot_type: str = ""
    ) -> None:
        self.root = Path(root)
        self.journal_root = self.root / JOURNAL_DIR
        _writable_dir(self.journal_root)
        self._lock = DatasetLock(self.root)
        try:
            self.meta = self._open_meta(features, fps, robot_type)
            for fixed in self.meta.repair():
                log.warning("dataset %s: %s", self.root, fixed)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def peek_codec(root: Path) -> str | None:
        """The canonical video codec of an existing dataset at ``root`` (None: none)."""
        try:
            features = json.loads((Path(root) / INFO).read_text())["features"]
        except (OSError, ValueError, KeyError):
            return None
        codecs = [ft.get("info", {}).get("video.codec") for ft in features.values()
                  if ft.get("dtype") == "video"]  # fmt: skip
        return codecs[0] if codecs else None

    def _open_meta(
        self, features: Features | None, fps: int | None, robot_type: str
    ) -> DatasetMeta:
        meta = DatasetMeta.load(self.root)
        if meta is None:
            if features is None or fps is None:
                raise DatasetError(f"{self.root} holds no dataset (no meta/info.json)")
            return DatasetMeta.create(self.root, features, fps, robot_type)
        if fps is not None and meta.info["fps"] != fps:
            raise DatasetError(
                f"dataset {self.root} is recorded at {meta.info['fps']} fps, not {fps}: "
                "use the same --fps or another --dataset"
            )
        if features is not None:
            problems = features_mismatch(meta.info["features"], features)
            if problems:
                raise DatasetError(
                    f"dataset {self.root} was recorded with other features "
                    f"({'; '.join(problems[:4])}); record into another --dataset"
                )
        return meta

    @property
    def features(self) -> Features:
        """The dataset's features (``info.json``)."""
        return dict(self.meta.info["features"])

    @property
    def next_index(self) -> int:
        """The index the next published episode gets."""
        return self.meta.total_episodes

    def leftover_journals(self) -> list[Path]:
        """Journal directories of episodes that were never published, oldest first."""
        return sorted(p for p in self.journal_root.iterdir() if p.is_dir())

    def video_temp(self, camera: str) -> Path:
        """Where a finished video is written before :meth:`publish` renames it into place."""
        final = self.meta.video_path(camera_key(camera), self.next_index)
        final.parent.mkdir(parents=True, exist_ok=True)
        return atomic.temp_path(final)

    def hold_reserve(self, nbytes: int) -> None:
        """Allocate ``nbytes`` of disk for closing an episode when the disk fills up.

        Raises:
            RecorderIOError: The disk has no room for it.
        """
        path = self.journal_root / RESERVE_NAME
        if nbytes <= 0 or (path.exists() and path.stat().st_size >= nbytes):
            return
        free = shutil.disk_usage(self.journal_root).free
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.posix_fallocate(fd, 0, nbytes)
            finally:
                os.close(fd)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise RecorderIOError(
                f"not enough free disk space in {self.root}: {free / 2**20:.1f} MiB free, "
                f"recording holds {nbytes / 2**20:.1f} MiB in reserve ({exc.strerror}); "
                "free some space"
            ) from exc

    def release_reserve(self) -> bool:
        """Free the reserve (to finish an episode on a full disk); returns if there was one."""
        path = self.journal_root / RESERVE_NAME
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def publish(self, episode: EpisodeOutput) -> int:
        """Write an episode's data file, move its videos into place, commit metadata.

        Returns:
            The episode's index.

        Raises:
            RecorderIOError: A write failed (nothing is committed then).
        """
        if not episode.rows:
            raise RecorderIOError("an episode needs at least one row to be published")
        index, meta = self.next_index, self.meta
        columns = episode_columns(
            episode.rows, episode.cameras, fps=int(meta.info["fps"]), episode_index=index,
            from_index=meta.total_frames, task_index=meta.task_index(episode.task),
        )  # fmt: skip
        t0 = time.perf_counter()
        try:
            atomic.write_table(meta.data_path(index), to_table(columns, self.features))
            self._check_videos(episode)
            for cam in episode.cameras:
                final = meta.video_path(camera_key(cam), index)
                atomic.publish(episode.videos[cam], final)
            t1 = time.perf_counter()
            stats = columns_stats(columns)
            stats.update({camera_key(c): s for c, s in episode.image_stats.items()})
            row = self._episode_row(index, episode, stats)
            t2 = time.perf_counter()
            meta.commit(row, len(episode.rows))
        except OSError as exc:
            meta.tasks = meta.tasks[: int(meta.info["total_tasks"])]
            raise RecorderIOError(
                f"could not write episode {index} to {self.root}: {exc.strerror or exc}"
            ) from exc
        log.debug("published episode %d: files %.3f s, stats %.3f s, metadata %.3f s",
                  index, t1 - t0, t2 - t1, time.perf_counter() - t2)  # fmt: skip
        return index

    @staticmethod
    def _check_videos(episode: EpisodeOutput) -> None:
        if episode.videos_ready is None or not episode.cameras:
            return
        frames = episode.videos_ready()
        if frames != len(episode.rows):
            raise RecorderIOError(
                f"the videos hold {frames} frames for {len(episode.rows)} rows; not published"
            )

    def _episode_row(
        self, index: int, episode: EpisodeOutput, stats: dict[str, Stats]
    ) -> dict[str, Any]:
        n, fps = len(episode.rows), int(self.meta.info["fps"])
        chunk, file = chunk_file(index)
        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": [episode.task],
            "length": n,
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.meta.total_frames,
            "dataset_to_index": self.meta.total_frames + n,
        }
        for cam in episode.cameras:
            key = camera_key(cam)
            row[f"videos/{key}/chunk_index"] = chunk
            row[f"videos/{key}/file_index"] = file
            row[f"videos/{key}/from_timestamp"] = 0.0
            row[f"videos/{key}/to_timestamp"] = n / fps
        row["meta/episodes/chunk_index"] = 0
        row["meta/episodes/file_index"] = 0
        for feature, values in stats.items():
            for stat, value in values.items():
                row[f"stats/{feature}/{stat}"] = value
        if episode.station is None:
            raise RecorderStateError(
                "an episode's station columns must be built before it is published"
            )
        row.update({f"station/{k}": v for k, v in episode.station.columns().items()})
        row["station/episode_uuid"] = episode.uuid
        return row

    def close(self) -> None:
        """Release the lock (idempotent)."""
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
