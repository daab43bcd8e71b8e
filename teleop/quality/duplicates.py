"""Duplicate episodes: exact copies by content hash, near copies by fingerprint.

- An **exact duplicate** has the same content hash as an earlier episode: the SHA-256 of
  every data column except the format's bookkeeping (``episode_index``, ``index``,
  ``task_index``, ``frame_index``, ``timestamp``, which a re-upload renumbers), and of
  each camera's MP4 bytes.
- A **near-duplicate** is a replayed or re-encoded episode: its joint trajectory,
  resampled to ``TRAJECTORY_SAMPLES`` points over the episode, is within
  ``near_dup_trajectory_rad`` (RMS) of an earlier episode's, and its downsampled frames
  (:mod:`teleop.quality.video_scan` thumbnails) within ``near_dup_frames`` gray levels.

An episode is only ever flagged as a duplicate of an *earlier* one, which it names.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from teleop.quality.config import Thresholds
from teleop.quality.episode_data import EpisodeData
from teleop.quality.verdict import CheckResult, Status
from teleop.quality.video_scan import VideoScan

TRAJECTORY_SAMPLES = 32
BOOKKEEPING = frozenset({"episode_index", "index", "task_index", "frame_index", "timestamp"})


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """What two episodes are compared by.

    Attributes:
        episode_index: The episode.
        content_sha256: Hash of its content (see the module docstring), hex.
        trajectory: ``observation.state`` resampled to ``(TRAJECTORY_SAMPLES, joints)``.
        thumbs: Camera -> its ``(k, 12, 16)`` thumbnails, gray levels.
    """

    episode_index: int
    content_sha256: str
    trajectory: np.ndarray
    thumbs: Mapping[str, np.ndarray]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``meta/station/fingerprints/episode_NNNNNN.json``); thumbnails are
        rounded to whole gray levels and stored as base64 bytes."""
        return {
            "episode_index": self.episode_index,
            "content_sha256": self.content_sha256,
            "trajectory": np.round(self.trajectory, 5).tolist(),
            "thumbs": {c: _pack(v) for c, v in self.thumbs.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        """The inverse of :meth:`to_dict`."""
        return cls(
            int(data["episode_index"]),
            str(data["content_sha256"]),
            np.asarray(data["trajectory"], np.float64),
            {c: _unpack(v) for c, v in data["thumbs"].items()},
        )


def _pack(thumbs: np.ndarray) -> dict[str, Any]:
    raw = np.clip(np.round(thumbs), 0, 255).astype(np.uint8).tobytes()
    return {"shape": list(thumbs.shape), "uint8": base64.b64encode(raw).decode()}


def _unpack(packed: Mapping[str, Any]) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(packed["uint8"]), np.uint8)
    return raw.reshape(packed["shape"]).astype(np.float32)


def content_hash(ep: EpisodeData, video_sha256: Mapping[str, str]) -> str:
    """SHA-256 (hex) of an episode's content, blind to the format's bookkeeping columns.

    Args:
        ep: The episode's rows.
        video_sha256: Camera -> SHA-256 (hex) of its MP4.
    """
    h = hashlib.sha256()
    for name in sorted(set(ep.columns) - BOOKKEEPING):
        values = np.ascontiguousarray(ep.columns[name])
        h.update(f"{name}|{values.dtype.str}|{values.shape}|".encode())
        h.update(values.tobytes())
    for cam in sorted(video_sha256):
        h.update(f"video|{cam}|{video_sha256[cam]}|".encode())
    return h.hexdigest()


def resample(q: np.ndarray, samples: int = TRAJECTORY_SAMPLES) -> np.ndarray:
    """Joint positions ``(rows, joints)`` resampled at ``samples`` evenly spaced points."""
    q = np.asarray(q, np.float64)
    if len(q) == 1:
        return np.repeat(q, samples, axis=0)
    x = np.linspace(0, len(q) - 1, samples)
    return np.stack([np.interp(x, np.arange(len(q)), q[:, j]) for j in range(q.shape[1])], 1)


def fingerprint(
    ep: EpisodeData, scans: Mapping[str, VideoScan], video_sha256: Mapping[str, str]
) -> Fingerprint:
    """An episode's fingerprint from its rows, its video scans and its videos' hashes."""
    return Fingerprint(
        episode_index=ep.index,
        content_sha256=content_hash(ep, video_sha256),
        trajectory=resample(ep.columns["observation.state"]),
        thumbs={cam: scan.thumbs for cam, scan in scans.items()},
    )


@dataclasses.dataclass(frozen=True)
class DuplicateMatch:
    """An earlier episode that this one duplicates.

    Attributes:
        of_episode: The earlier episode's index.
        exact: Same content hash; otherwise a near-duplicate.
        trajectory_rad: RMS distance between the resampled trajectories, [rad].
        frames: Mean absolute thumbnail difference, gray levels (None: no cameras).
    """

    of_episode: int
    exact: bool
    trajectory_rad: float
    frames: float | None


def _frame_distance(a: Fingerprint, b: Fingerprint) -> float | None:
    """Mean absolute difference of the common cameras' thumbnails (None: nothing to compare)."""
    diffs = [
        float(np.mean(np.abs(a.thumbs[c] - b.thumbs[c])))
        for c in a.thumbs
        if c in b.thumbs and a.thumbs[c].shape == b.thumbs[c].shape and a.thumbs[c].size
    ]
    return float(np.mean(diffs)) if diffs else None


def _trajectory_distance(a: Fingerprint, b: Fingerprint) -> float:
    if a.trajectory.shape != b.trajectory.shape:
        return float("inf")
    return float(np.sqrt(np.mean((a.trajectory - b.trajectory) ** 2)))


def find_duplicate(
    fp: Fingerprint, earlier: Iterable[Fingerprint], t: Thresholds
) -> DuplicateMatch | None:
    """The earlier episode ``fp`` duplicates: an exact one first, else the nearest near one."""
    best: DuplicateMatch | None = None
    for other in earlier:
        if other.episode_index >= fp.episode_index:
            continue
        if other.content_sha256 == fp.content_sha256:
            return DuplicateMatch(other.episode_index, True, 0.0, 0.0)
        traj = _trajectory_distance(fp, other)
        if not traj <= t.near_dup_trajectory_rad:
            continue
        frames = _frame_distance(fp, other)
        if frames is not None and not frames <= t.near_dup_frames:
            continue
        if best is None or traj < best.trajectory_rad:
            best = DuplicateMatch(other.episode_index, False, traj, frames)
    return best


def check_duplicate(match: DuplicateMatch | None, compared: int) -> CheckResult:
    """The ``duplicate`` check's result for a search over ``compared`` earlier episodes."""
    if match is None:
        return CheckResult(
            "duplicate", Status.PASS, None, "", f"no duplicate among {compared} earlier episodes"
        )
    if match.exact:
        return CheckResult(
            "duplicate",
            Status.FAIL,
            float(match.of_episode),
            "episode",
            f"exact duplicate of episode {match.of_episode}",
        )
    frames = "no frames" if match.frames is None else f"frames {match.frames:.1f} levels"
    detail = (
        f"near-duplicate of episode {match.of_episode} "
        f"(trajectory {match.trajectory_rad:.3f} rad, {frames})"
    )
    return CheckResult("duplicate", Status.FAIL, float(match.of_episode), "episode", detail)
