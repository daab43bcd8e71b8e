"""An episode's rows as an arrow table (the data parquet file), and their statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.ma  # pyarrow imports it on first use: pay that at import, not in stop()
import pyarrow as pa

from teleop.recorder.rows import Row
from teleop.recorder.schema import data_schema, frame_repeat_column, frame_time_column
from teleop.recorder.stats import Stats, numeric_stats


def _columns(rows: Sequence[Row], cameras: Sequence[str]) -> dict[str, np.ndarray]:
    """Feature name -> values, for the robot's features (no bookkeeping columns)."""
    stack = np.stack
    cols: dict[str, np.ndarray] = {
        "observation.state": stack([r.q for r in rows]).astype(np.float32),
        "observation.velocity": stack([r.dq for r in rows]).astype(np.float32),
        "observation.effort": stack([r.tau for r in rows]).astype(np.float32),
        "observation.ee_force": stack([r.ee_force for r in rows]).astype(np.float32),
        "observation.grasp_force": np.array([r.grasp_force for r in rows], np.float32),
        "action": stack([r.action for r in rows]).astype(np.float32),
        "action.requested": stack([r.requested for r in rows]).astype(np.float32),
        "action.clamped": np.array([r.clamped for r in rows], np.bool_),
        "t_state_ns": np.array([r.t_state_ns for r in rows], np.int64),
        "t_command_ns": np.array([r.t_command_ns for r in rows], np.int64),
    }
    for i, cam in enumerate(cameras):
        cols[frame_time_column(cam)] = np.array([r.frame_t_ns[i] for r in rows], np.int64)
        cols[frame_repeat_column(cam)] = np.array([r.frame_repeat[i] for r in rows], np.bool_)
    return cols


def episode_columns(
    rows: Sequence[Row],
    cameras: Sequence[str],
    *,
    fps: int,
    episode_index: int,
    from_index: int,
    task_index: int,
) -> dict[str, np.ndarray]:
    """Every non-video column of an episode's data file, as numpy arrays.

    Args:
        rows: The episode's rows, in order (at least one).
        cameras: Camera names in the order of ``Row.frame_t_ns``.
        fps: Dataset frame rate; ``timestamp = frame_index / fps``.
        episode_index: The episode's index.
        from_index: Global ``index`` of the episode's first row.
        task_index: The task's index in ``meta/tasks.parquet``.
    """
    n = len(rows)
    frame_index = np.arange(n, dtype=np.int64)
    cols = _columns(rows, cameras)
    cols["timestamp"] = (frame_index / fps).astype(np.float32)
    cols["frame_index"] = frame_index
    cols["episode_index"] = np.full(n, episode_index, np.int64)
    cols["index"] = frame_index + from_index
    cols["task_index"] = np.full(n, task_index, np.int64)
    return cols


def to_table(columns: Mapping[str, np.ndarray], features: Mapping[str, Any]) -> pa.Table:
    """The arrow table of a data file, typed by the features (fixed-size list vectors)."""
    schema = data_schema(features)
    arrays = []
    for field in schema:
        values = columns[field.name]
        if pa.types.is_fixed_size_list(field.type):
            flat = pa.array(values.reshape(-1), type=field.type.value_type)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, field.type.list_size))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def columns_stats(columns: Mapping[str, np.ndarray]) -> dict[str, Stats]:
    """Per-feature statistics of an episode's columns (bools counted as 0/1)."""
    return {name: numeric_stats(values) for name, values in columns.items()}
