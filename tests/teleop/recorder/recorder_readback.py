"""Read a recorded dataset back with pyarrow, json and PyAV only (never the writer's code),
and check what every test checks: the format's invariants."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TOL_S = 1e-4  # LeRobot's tolerance between a row's timestamp and its video frame


@dataclasses.dataclass
class Readback:
    """A dataset as read from disk."""

    root: Path
    info: dict[str, Any]
    stats: dict[str, Any]
    tasks: dict[int, str]
    episodes: list[dict[str, Any]]
    data: pa.Table

    def episode_rows(self, index: int) -> dict[str, list[Any]]:
        """The data rows of one episode, column -> values."""
        mask = np.asarray(self.data.column("episode_index").to_numpy()) == index
        return self.data.filter(pa.array(mask)).to_pydict()

    def video_path(self, key: str, index: int) -> Path:
        ep = self.episodes[index]
        return self.root / self.info["video_path"].format(
            video_key=key,
            chunk_index=ep[f"videos/{key}/chunk_index"],
            file_index=ep[f"videos/{key}/file_index"],
        )

    @property
    def video_keys(self) -> list[str]:
        return [k for k, ft in self.info["features"].items() if ft["dtype"] == "video"]


def read_dataset(root: Path) -> Readback:
    """Everything under ``meta/`` and ``data/``, data files concatenated in path order."""
    info = json.loads((root / "meta/info.json").read_text())
    stats = json.loads((root / "meta/stats.json").read_text())
    tasks_table = pq.read_table(root / "meta/tasks.parquet")
    pandas_meta = json.loads(tasks_table.schema.metadata[b"pandas"])
    index_col = pandas_meta["index_columns"][0]
    tasks = dict(
        zip(tasks_table.column("task_index").to_pylist(), tasks_table.column(index_col).to_pylist(),
            strict=True)
    )  # fmt: skip
    episodes = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    files = sorted((root / "data").glob("*/*.parquet"))
    data = pa.concat_tables([pq.read_table(f) for f in files])
    return Readback(root, info, stats, tasks, episodes, data)


def video_frame_times(path: Path) -> tuple[list[float], dict[str, Any]]:
    """Decoded frame times in [s] and the stream's properties."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        props = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
        }
        times = [float(f.time) for f in container.decode(video=0)]
    return times, props


def file_hashes(root: Path, episode_file: str) -> dict[str, str]:
    """SHA-256 of every data and video file named ``episode_file`` (e.g. file-000)."""
    out = {}
    for path in sorted(root.rglob(f"{episode_file}.*")):
        if path.parts[len(root.parts)] in ("data", "videos"):
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def beside_camera_gap(t_frame: np.ndarray, fps: int) -> np.ndarray:
    """Rows whose frame borders a gap of over 1.5 frame periods between the frames used.

    There, no frame close to the row's time existed (a stalled camera, e.g. on a loaded
    machine), so the nearest one may be more than a frame period away.
    """
    used = np.unique(t_frame)
    gaps = np.diff(used) > 1.5e9 / fps
    before = np.concatenate([[False], gaps])  # a gap just before this frame
    after = np.concatenate([gaps, [False]])  # a gap just after it
    return (before | after)[np.searchsorted(used, t_frame)]


def check_format(rb: Readback) -> None:
    """The LeRobot v3 invariants every dataset we write must hold."""
    info, fps = rb.info, rb.info["fps"]
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == len(rb.episodes)
    assert info["total_frames"] == rb.data.num_rows
    assert info["total_tasks"] == len(rb.tasks)
    assert info["splits"] == {"train": f"0:{len(rb.episodes)}"}
    declared = {k for k, ft in info["features"].items() if ft["dtype"] != "video"}
    assert declared == set(rb.data.column_names)
    for name in ("frame_index", "episode_index", "index", "task_index"):
        assert info["features"][name] == {"dtype": "int64", "shape": [1], "names": None}
    assert info["features"]["timestamp"]["dtype"] == "float32"
    # index is global, in path order; timestamp = frame_index / fps within 1e-4 s.
    assert rb.data.column("index").to_pylist() == list(range(rb.data.num_rows))
    ts = rb.data.column("timestamp").to_numpy()
    fi = rb.data.column("frame_index").to_numpy()
    assert np.all(np.abs(ts - fi / fps) < TOL_S)
    for i, ep in enumerate(rb.episodes):
        check_episode(rb, i, ep)
    for feature, values in rb.stats.items():
        assert all(isinstance(v, list) for v in values.values()), feature
        assert len(values["count"]) == 1


def check_episode(rb: Readback, i: int, ep: dict[str, Any]) -> None:
    """One episode's rows, metadata row and videos agree."""
    fps = rb.info["fps"]
    rows = rb.episode_rows(i)
    n = len(rows["frame_index"])
    assert ep["episode_index"] == i and ep["length"] == n > 0
    assert rows["frame_index"] == list(range(n))
    assert ep["dataset_to_index"] - ep["dataset_from_index"] == n
    assert rows["index"][0] == ep["dataset_from_index"]
    assert rb.tasks[rows["task_index"][0]] == ep["tasks"][0]
    assert ep["meta/episodes/chunk_index"] == 0 and ep["meta/episodes/file_index"] == 0
    for key in rb.video_keys:
        assert ep[f"videos/{key}/from_timestamp"] == 0.0
        assert abs(ep[f"videos/{key}/to_timestamp"] - n / fps) < 1e-9
        times, props = video_frame_times(rb.video_path(key, i))
        assert len(times) == n, f"episode {i} {key}: {len(times)} frames for {n} rows"
        assert np.all(np.abs(np.asarray(times) - np.arange(n) / fps) < TOL_S)
        ft = rb.info["features"][key]
        assert props["pix_fmt"] == ft["info"]["video.pix_fmt"] == "yuv420p"
        assert [props["height"], props["width"], 3] == ft["shape"]
        camera = key.removeprefix("observation.images.")
        t_frame = np.asarray(rows[f"t_frame_ns.{camera}"])
        t_state = np.asarray(rows["t_state_ns"])
        far = np.abs(t_frame - t_state) >= 1e9 / fps
        assert not np.any(far & ~beside_camera_gap(t_frame, fps)), "frame beyond one period"
        repeat = np.asarray(rows[f"frame_repeat.{camera}"])
        assert not repeat[0]
        assert np.array_equal(repeat[1:], t_frame[1:] == t_frame[:-1])
        assert np.all(np.diff(t_frame) >= 0), "frames go back in time"
