"""The dataset's ``meta/`` directory: info.json, stats.json, tasks and episodes.

Each file is replaced atomically; ``info.json`` is written last and is the commit point:
an episode exists once ``info.json`` counts it. :meth:`DatasetMeta.repair` undoes what a
crash between those writes can leave behind (an extra episodes row, orphan files).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teleop.recorder import atomic
from teleop.recorder.errors import DatasetError
from teleop.recorder.schema import Features
from teleop.recorder.stats import Stats, aggregate, to_json

log = logging.getLogger(__name__)

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
INFO = Path("meta/info.json")
STATS = Path("meta/stats.json")
TASKS = Path("meta/tasks.parquet")
EPISODES = Path("meta/episodes/chunk-000/file-000.parquet")
_FILE_RE = re.compile(r"chunk-(\d{3,})/file-(\d{3,})\.(parquet|mp4)$")


def chunk_file(episode_index: int) -> tuple[int, int]:
    """``(chunk_index, file_index)`` of an episode's files: one file per episode."""
    return divmod(episode_index, CHUNKS_SIZE)


def tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet`` as pandas writes it: the task text is the (unnamed) index."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode",
                            "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
             "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
             "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }  # fmt: skip
    schema = pa.schema(
        [("task_index", pa.int64()), ("__index_level_0__", pa.string())],
        metadata={b"pandas": json.dumps(pandas_meta).encode()},
    )
    return pa.Table.from_arrays(
        [pa.array(range(len(tasks)), pa.int64()), pa.array(tasks, pa.string())], schema=schema
    )


def read_tasks(path: Path) -> list[str]:
    """Task texts by task_index, from a tasks file written by us or by pandas."""
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(b"pandas", b"{}"))
    index_cols = [c for c in meta.get("index_columns", []) if isinstance(c, str)]
    name = next(
        (c for c in (*index_cols, "task", "__index_level_0__") if c in table.column_names), None
    )
    if name is None:
        raise DatasetError(f"{path} has no task column; columns: {table.column_names}")
    order = np.argsort(table.column("task_index").to_numpy())
    texts = table.column(name).to_pylist()
    return [texts[i] for i in order]


def _arrow_type(key: str, value: Any) -> pa.DataType:
    if key == "tasks":
        return pa.list_(pa.string())
    if key == "station/success":
        return pa.bool_()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, np.ndarray):
        base = pa.int64() if value.dtype.kind in "iu" else pa.float64()
        for _ in range(value.ndim):
            base = pa.list_(base)
        return base
    raise TypeError(f"episodes column {key}: no arrow type for {type(value).__name__}")


def episode_table(row: dict[str, Any]) -> pa.Table:
    """One ``meta/episodes`` row as a table with explicit column types."""
    schema = pa.schema([(k, _arrow_type(k, v)) for k, v in row.items()])
    plain = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
    return pa.Table.from_pylist([plain], schema=schema)


def episode_stats(episodes: pa.Table) -> list[dict[str, Stats]]:
    """The per-episode ``stats/<feature>/<stat>`` columns, one dict per row."""
    cols = [c for c in episodes.column_names if c.startswith("stats/")]
    data = {c: episodes.column(c).to_pylist() for c in cols}
    out: list[dict[str, Stats]] = []
    for i in range(episodes.num_rows):
        per: dict[str, Stats] = {}
        for c in cols:
            _, feature, stat = c.split("/", 2)
            if data[c][i] is not None:
                per.setdefault(feature, {})[stat] = np.asarray(data[c][i])
        out.append(per)
    return out


@dataclasses.dataclass
class DatasetMeta:
    """A dataset's metadata, in memory; :meth:`commit` writes an episode's share of it.

    Attributes:
        root: The dataset directory.
        info: ``meta/info.json``.
        tasks: Task texts; the position is the ``task_index``.
        episodes: ``meta/episodes`` rows (row i is episode i), or None before the first.
    """

    root: Path
    info: dict[str, Any]
    tasks: list[str]
    episodes: pa.Table | None

    @classmethod
    def create(cls, root: Path, features: Features, fps: int, robot_type: str) -> DatasetMeta:
        """A new, empty dataset's metadata (nothing is written until the first commit)."""
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": robot_type,
            "total_episodes": 0,
            "total_frames": 0,
            "total_tasks": 0,
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": fps,
            "splits": {"train": "0:0"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH,
            "features": features,
        }
        return cls(root, info, [], None)

    @classmethod
    def load(cls, root: Path) -> DatasetMeta | None:
        """The metadata on disk, or None if ``root`` holds no dataset yet.

        Raises:
            DatasetError: A metadata file is unreadable or not LeRobot v3.0.
        """
        if not (root / INFO).exists():
            return None
        try:
            info = json.loads((root / INFO).read_text())
            tasks = read_tasks(root / TASKS) if (root / TASKS).exists() else []
            episodes = pq.read_table(root / EPISODES) if (root / EPISODES).exists() else None
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DatasetError(
                f"cannot read the dataset metadata in {root / 'meta'}: {exc}"
            ) from exc
        if info.get("codebase_version") != CODEBASE_VERSION:
            raise DatasetError(
                f"{root} is a LeRobot {info.get('codebase_version')} dataset; this recorder "
                f"appends only to {CODEBASE_VERSION} datasets: use another --dataset name"
            )
        return cls(root, info, tasks, episodes)

    @property
    def total_episodes(self) -> int:
        """Episodes committed."""
        return int(self.info["total_episodes"])

    @property
    def total_frames(self) -> int:
        """Rows committed, over all episodes."""
        return int(self.info["total_frames"])

    def data_path(self, episode_index: int) -> Path:
        """Where an episode's data file goes."""
        chunk, file = chunk_file(episode_index)
        return self.root / DATA_PATH.format(chunk_index=chunk, file_index=file)

    def video_path(self, key: str, episode_index: int) -> Path:
        """Where an episode's video of feature ``key`` goes."""
        chunk, file = chunk_file(episode_index)
        return self.root / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)

    def task_index(self, task: str) -> int:
        """The index of ``task``, added to :attr:`tasks` if new (written on commit)."""
        if task not in self.tasks:
            self.tasks.append(task)
        return self.tasks.index(task)

    def uuids(self) -> set[str]:
        """The ``station/episode_uuid`` of every committed episode."""
        if self.episodes is None or "station/episode_uuid" not in self.episodes.column_names:
            return set()
        return {u for u in self.episodes.column("station/episode_uuid").to_pylist() if u}

    def commit(self, row: dict[str, Any], length: int) -> None:
        """Write the metadata of one more episode: tasks, episodes, stats, then info."""
        new = episode_table(row)
        table = (
            new
            if self.episodes is None
            else pa.concat_tables([self.episodes, new], promote_options="permissive")
        )
        atomic.write_table(self.root / TASKS, tasks_table(self.tasks))
        atomic.write_table(self.root / EPISODES, table)
        atomic.write_json(self.root / STATS, to_json(aggregate(episode_stats(table))))
        info = dict(self.info)
        info["total_episodes"] = self.total_episodes + 1
        info["total_frames"] = self.total_frames + length
        info["total_tasks"] = len(self.tasks)
        info["splits"] = {"train": f"0:{info['total_episodes']}"}
        atomic.write_json(self.root / INFO, info)
        self.episodes, self.info = table, info

    def repair(self) -> list[str]:
        """Undo a crash between metadata writes; returns what was fixed (for the log).

        ``info.json`` is the commit point: extra episodes rows are dropped, stats are
        rebuilt from the kept rows, and data or video files of uncommitted episodes and
        stale temp files are removed.

        Raises:
            DatasetError: The episodes table has fewer rows than info.json counts.
        """
        fixed: list[str] = []
        n = self.total_episodes
        rows = 0 if self.episodes is None else self.episodes.num_rows
        if rows < n:
            raise DatasetError(
                f"{self.root / EPISODES} has {rows} rows but info.json counts {n} episodes; "
                "the dataset is damaged: record into another --dataset"
            )
        if self.episodes is not None and rows > n:
            self.episodes = self.episodes.slice(0, n)
            atomic.write_table(self.root / EPISODES, self.episodes)
            atomic.write_json(self.root / STATS, to_json(aggregate(episode_stats(self.episodes))))
            fixed.append(f"dropped {rows - n} uncommitted episodes rows")
        if len(self.tasks) != self.info.get("total_tasks"):
            self.info["total_tasks"] = len(self.tasks)
            atomic.write_json(self.root / INFO, self.info)
        for path in self._stray_files(n):
            path.unlink(missing_ok=True)
            fixed.append(f"removed {path.relative_to(self.root)}")
        return fixed

    def _stray_files(self, n_episodes: int) -> list[Path]:
        stray = []
        for top in ("data", "videos", "meta"):
            for path in sorted((self.root / top).rglob("*")):
                if not path.is_file():
                    continue
                m = _FILE_RE.search(path.as_posix())
                if path.name.endswith(".tmp"):
                    stray.append(path)
                elif top != "meta" and m and int(m[1]) * CHUNKS_SIZE + int(m[2]) >= n_episodes:
                    stray.append(path)
        return stray
