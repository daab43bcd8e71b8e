"""The dataset's features (``info.json``) and the data parquet schema derived from them.

A feature of shape ``[1]`` is a plain scalar column; shape ``[n]`` is a fixed-size list
column. Video features live only in the MP4 files, never in the parquet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from robots.base import CameraSpec, RobotSpec

Features = dict[str, dict[str, Any]]

INDEX_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
"""The format's bookkeeping columns, always present."""

_ARROW_TYPES = {"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}


def camera_key(camera: str) -> str:
    """The video feature key of a camera, e.g. ``observation.images.front``."""
    return f"observation.images.{camera}"


def frame_time_column(camera: str) -> str:
    """Column holding the capture time in [ns] of the frame used for each row."""
    return f"t_frame_ns.{camera}"


def frame_repeat_column(camera: str) -> str:
    """Column flagging rows whose frame is the previous row's frame again."""
    return f"frame_repeat.{camera}"


def _vector(names: Sequence[str]) -> dict[str, Any]:
    return {"dtype": "float32", "shape": [len(names)], "names": list(names)}


def _scalar(dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": [1], "names": None}


def video_feature(camera: CameraSpec, fps: int, codec: str) -> dict[str, Any]:
    """The ``info.json`` entry of one camera's video; ``codec`` is ``av1`` or ``h264``."""
    return {
        "dtype": "video",
        "shape": [camera.height, camera.width, 3],
        "names": ["height", "width", "channels"],
        "info": {
            "video.height": camera.height,
            "video.width": camera.width,
            "video.codec": codec,
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": 3,
            "has_audio": False,
        },
    }


def build_features(
    spec: RobotSpec, cameras: Sequence[CameraSpec], fps: int, codec: str
) -> Features:
    """Every feature of a dataset recorded from ``spec`` with ``cameras``.

    Args:
        spec: The robot; its joint names label the vectors (gripper last).
        cameras: The recorded cameras, in order.
        fps: Dataset frame rate in [frames/s].
        codec: Canonical video codec name, ``av1`` or ``h264``.
    """
    joints = spec.joint_names
    features: Features = {
        "observation.state": _vector(joints),
        "observation.velocity": _vector(joints),
        "observation.effort": _vector(joints),
        "observation.ee_force": _vector(("x", "y", "z")),
        "observation.grasp_force": _scalar("float32"),
        "action": _vector(joints),
        "action.requested": _vector(joints),
        "action.clamped": _scalar("bool"),
        "t_state_ns": _scalar("int64"),
        "t_command_ns": _scalar("int64"),
    }
    for cam in cameras:
        features[frame_time_column(cam.name)] = _scalar("int64")
        features[frame_repeat_column(cam.name)] = _scalar("bool")
    for cam in cameras:
        features[camera_key(cam.name)] = video_feature(cam, fps, codec)
    features["timestamp"] = _scalar("float32")
    for name in INDEX_COLUMNS[1:]:
        features[name] = _scalar("int64")
    return features


def video_keys(features: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The video feature keys, in feature order."""
    return [key for key, ft in features.items() if ft["dtype"] == "video"]


def data_schema(features: Mapping[str, Mapping[str, Any]]) -> pa.Schema:
    """The arrow schema of a data parquet file: one column per non-video feature."""
    fields = []
    for key, ft in features.items():
        if ft["dtype"] == "video":
            continue
        base = _ARROW_TYPES[ft["dtype"]]
        shape = list(ft["shape"])
        arrow_type = base if shape == [1] else pa.list_(base, shape[0])
        fields.append(pa.field(key, arrow_type, nullable=False))
    return pa.schema(fields)


def features_mismatch(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between two feature maps (dtype, shape, names, codec)."""
    problems = []
    for key in sorted(set(old) | set(new)):
        if key not in old or key not in new:
            where = "dataset" if key in old else "this recorder"
            problems.append(f"'{key}' only in {where}")
            continue
        a, b = old[key], new[key]
        for field in ("dtype", "shape", "names"):
            if list(a.get(field) or []) != list(b.get(field) or []) and a.get(field) != b.get(
                field
            ):
                problems.append(f"'{key}' {field} {a.get(field)} != {b.get(field)}")
        codec_a = a.get("info", {}).get("video.codec")
        codec_b = b.get("info", {}).get("video.codec")
        if codec_a != codec_b:
            problems.append(f"'{key}' codec {codec_a} != {codec_b}")
    return problems
