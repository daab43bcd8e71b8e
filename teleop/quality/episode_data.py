"""Read a recorded dataset, one episode at a time, without ever writing to it.

:class:`DatasetView` reads ``meta/info.json`` and the ``meta/episodes`` rows once;
:meth:`DatasetView.load` reads one episode's data parquet into numpy columns. Nothing
here takes the recorder's lock or repairs anything, so ``teleop verify`` may run on a
dataset a server is appending to. Every read failure becomes a
:class:`~teleop.quality.errors.DatasetReadError` that names the file and the episode.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teleop.quality.errors import DatasetReadError

INFO = Path("meta/info.json")
EPISODES_DIR = Path("meta/episodes")
STATION_DIR = Path("meta/station")
ROBOT_FILE = STATION_DIR / "robot.json"
CAMERA_PREFIX = "observation.images."


@dataclasses.dataclass(frozen=True)
class JointLimits:
    """Position limits of the recorded joints (gripper last).

    Attributes:
        names: Joint names, in the dataset's vector order.
        lower: Lower limits, [rad] (the gripper's opening in [0, 1]).
        upper: Upper limits, same units.
    """

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``meta/station/robot.json``)."""
        return {
            "joint_names": list(self.names),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JointLimits:
        """The inverse of :meth:`to_dict`."""
        return cls(
            tuple(data["joint_names"]),
            np.asarray(data["lower"], np.float64),
            np.asarray(data["upper"], np.float64),
        )


@dataclasses.dataclass(frozen=True)
class EpisodeData:
    """One episode's rows and metadata, as read from disk.

    Attributes:
        index: The episode's index.
        fps: Dataset frame rate in [frames/s].
        joint_names: Names of the vector columns' entries (gripper last).
        cameras: Camera names (``observation.images.<camera>``).
        columns: Column name -> values; vectors are ``(rows, size)`` arrays.
        meta: The episode's ``meta/episodes`` row, without the ``stats/*`` columns.
        data_file: Its data parquet, relative to the dataset root.
        video_files: Camera -> its MP4, relative to the dataset root.
        limits: The joints' limits, if the station published them.
    """

    index: int
    fps: int
    joint_names: tuple[str, ...]
    cameras: tuple[str, ...]
    columns: dict[str, np.ndarray]
    meta: dict[str, Any]
    data_file: Path
    video_files: dict[str, Path]
    limits: JointLimits | None

    @property
    def length(self) -> int:
        """Rows in the episode."""
        return len(self.columns["frame_index"])

    @property
    def duration_s(self) -> float:
        """``length / fps`` in [s], as the recorder reports it."""
        return self.length / self.fps

    @property
    def uuid(self) -> str:
        """``station/episode_uuid`` ("" when absent)."""
        return str(self.meta.get("station/episode_uuid") or "")

    def station(self, key: str, default: Any = None) -> Any:
        """A ``station/<key>`` metadata value, or ``default`` when absent or null."""
        value = self.meta.get(f"station/{key}")
        return default if value is None else value


def _column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
        size = col.type.list_size if pa.types.is_fixed_size_list(col.type) else None
        flat = col.flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(len(col), size if size is not None else -1)
    return col.to_numpy(zero_copy_only=False)


class DatasetView:
    """A LeRobot v3 dataset on disk, read-only.

    Args:
        root: The dataset directory.

    Raises:
        DatasetReadError: ``root`` is not a dataset, or its metadata cannot be read.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetReadError(f"{self.root}: no such dataset directory")
        if not (self.root / INFO).is_file():
            raise DatasetReadError(f"{self.root} is not a LeRobot dataset: it has no {INFO}")
        self.info = self._read_info()
        self.fps = int(self.info["fps"])
        features = self.info["features"]
        self.cameras = tuple(
            k.removeprefix(CAMERA_PREFIX)
            for k, ft in features.items()
            if ft.get("dtype") == "video"
        )
        self.joint_names = tuple(features.get("observation.state", {}).get("names") or ())
        self.episodes = self._read_episodes()
        self.limits = self._read_limits()

    def _read_info(self) -> dict[str, Any]:
        path = self.root / INFO
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetReadError(f"{path} is unreadable (truncated?): {exc}") from exc
        required = ("fps", "features", "data_path", "video_path", "total_episodes")
        missing = [k for k in required if not isinstance(info, dict) or k not in info]
        if missing:
            raise DatasetReadError(f"{path} is incomplete: no {', '.join(missing)}")
        return dict(info)

    def _read_episodes(self) -> list[dict[str, Any]]:
        files = sorted((self.root / EPISODES_DIR).glob("chunk-*/file-*.parquet"))
        rows: list[dict[str, Any]] = []
        for path in files:
            try:
                names = pq.ParquetFile(path).schema_arrow.names
                keep = [n for n in names if not n.startswith("stats/")]
                rows.extend(pq.read_table(path, columns=keep).to_pylist())
            except (OSError, pa.ArrowException) as exc:
                raise DatasetReadError(
                    f"{path.relative_to(self.root)} is unreadable (truncated?): {exc}"
                ) from exc
        total = int(self.info["total_episodes"])
        if len(rows) < total:
            where = files[-1].relative_to(self.root) if files else EPISODES_DIR
            raise DatasetReadError(
                f"{self.root} is truncated: {INFO} counts {total} episodes but {where} "
                f"describes only {len(rows)} (episodes {len(rows)}..{total - 1} are missing)"
            )
        return rows[:total]

    def _read_limits(self) -> JointLimits | None:
        path = self.root / ROBOT_FILE
        if not path.is_file():
            return None
        try:
            return JointLimits.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DatasetReadError(f"{path} is unreadable: {exc}") from exc

    @property
    def n_episodes(self) -> int:
        """Episodes the dataset counts (``info.json``)."""
        return len(self.episodes)

    def episode_meta(self, index: int) -> dict[str, Any]:
        """The ``meta/episodes`` row of an episode (no stats).

        Raises:
            DatasetReadError: No such episode.
        """
        if not 0 <= index < len(self.episodes):
            raise DatasetReadError(
                f"{self.root} has no episode {index} (it has {len(self.episodes)})"
            )
        return self.episodes[index]

    def data_file(self, index: int) -> Path:
        """An episode's data parquet, relative to the root."""
        row = self.episode_meta(index)
        return Path(
            self.info["data_path"].format(
                chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
            )
        )

    def video_file(self, camera: str, index: int) -> Path:
        """An episode's MP4 of ``camera``, relative to the root."""
        row, key = self.episode_meta(index), CAMERA_PREFIX + camera
        return Path(
            self.info["video_path"].format(
                video_key=key,
                chunk_index=row[f"videos/{key}/chunk_index"],
                file_index=row[f"videos/{key}/file_index"],
            )
        )

    def episode_files(self, index: int) -> list[Path]:
        """The data file, then each camera's video, relative to the root."""
        return [self.data_file(index), *(self.video_file(c, index) for c in self.cameras)]

    def load(self, index: int) -> EpisodeData:
        """Read one episode's rows.

        Raises:
            DatasetReadError: Its data file is missing, truncated or holds no rows of it.
        """
        meta = self.episode_meta(index)
        rel = self.data_file(index)
        try:
            table = pq.read_table(self.root / rel)
        except FileNotFoundError as exc:
            raise DatasetReadError(f"episode {index}: {rel} is missing") from exc
        except (OSError, pa.ArrowException) as exc:
            raise DatasetReadError(
                f"episode {index}: {rel} is unreadable (truncated?): {exc}"
            ) from exc
        if "episode_index" not in table.column_names:
            raise DatasetReadError(f"episode {index}: {rel} has no episode_index column")
        ep_col = table.column("episode_index").to_numpy()
        if not np.all(ep_col == index):
            table = table.filter(pa.array(ep_col == index))
        if table.num_rows == 0:
            raise DatasetReadError(f"episode {index}: {rel} holds no row of this episode")
        columns = {name: _column(table, name) for name in table.column_names}
        videos = {cam: self.video_file(cam, index) for cam in self.cameras}
        return EpisodeData(
            index, self.fps, self.joint_names, self.cameras, columns, meta, rel, videos, self.limits
        )
