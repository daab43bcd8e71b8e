"""Checks on the decoded videos: frame counts, frozen cameras, black or white cameras.

Each check is a pure function ``(episode, scans, thresholds) -> CheckResult``, where
``scans`` maps each camera to its :class:`~teleop.quality.video_scan.VideoScan`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from teleop.quality.config import Thresholds
from teleop.quality.episode_data import EpisodeData
from teleop.quality.series import runs
from teleop.quality.verdict import CheckResult, Status, grade_above, worst
from teleop.quality.video_scan import VideoScan

Scans = Mapping[str, VideoScan]


def check_video_frames(ep: EpisodeData, scans: Scans, t: Thresholds) -> CheckResult:
    """Each camera's MP4 decodes to exactly as many frames as the episode has rows."""
    if not ep.cameras:
        return CheckResult("video_frames", Status.SKIP, None, "frames", "no cameras")
    parts, worst_off = [], 0
    for cam in ep.cameras:
        scan, path = scans[cam], ep.video_files[cam]
        off = abs(scan.frames - ep.length)
        worst_off = max(worst_off, off if scan.error is None else max(off, 1))
        if scan.error is not None:
            parts.append(f"{path} {scan.error}")
        elif off:
            parts.append(f"{path} has {scan.frames} frames for {ep.length} rows")
    status = Status.FAIL if worst_off else Status.PASS
    detail = "; ".join(parts) if parts else f"{ep.length} frames per camera"
    return CheckResult("video_frames", status, worst_off, "frames", detail)


def _moved(q: np.ndarray, start: int, stop: int) -> float:
    """Largest joint excursion in [rad] over rows ``start..stop-1`` (NaN rows ignored)."""
    window = q[max(0, start) : stop]
    finite = window[np.isfinite(window).all(axis=1)]
    return float(np.max(finite.max(axis=0) - finite.min(axis=0))) if len(finite) else 0.0


def _blank(means: np.ndarray, t: Thresholds) -> np.ndarray:
    return (means <= t.blank_dark_level) | (means >= t.blank_bright_level)


def frozen_runs_s(ep: EpisodeData, scan: VideoScan, t: Thresholds) -> list[float]:
    """Durations in [s] of runs of identical frames during which the arm moved.

    A frame is like the one before it when its pixels did not change from the first
    frame of the run (see :mod:`teleop.quality.video_scan`). Left out: rows the
    recorder flagged ``frame_repeat`` (an intended copy, judged by ``camera_repeats``)
    and black or white frames (judged by ``camera_blank``). A run counts only when the
    arm moved by more than ``idle_speed`` x its duration: a still arm in a still scene
    looks frozen too.
    """
    n = min(scan.frames, ep.length)
    repeat = ep.columns.get(f"frame_repeat.{scan.camera}", np.zeros(ep.length, np.bool_))
    same = ~scan.changed[:n] & ~repeat[:n] & ~_blank(scan.means[:n], t)
    q = ep.columns["observation.state"]
    out = []
    for start, length in runs(same):
        duration = length / ep.fps
        if _moved(q, start - 1, start + length) > t.idle_speed * duration:
            out.append(duration)
    return out


def check_camera_frozen(ep: EpisodeData, scans: Scans, t: Thresholds) -> CheckResult:
    """The longest run in [s] of identical frames while the arm moved, over all cameras."""
    if not ep.cameras:
        return CheckResult("camera_frozen", Status.SKIP, None, "s", "no cameras")
    longest, parts, statuses = 0.0, [], []
    for cam in ep.cameras:
        run = max(frozen_runs_s(ep, scans[cam], t), default=0.0)
        longest = max(longest, run)
        statuses.append(grade_above(run, t.frozen_warn_s, t.frozen_fail_s))
        parts.append(f"{cam} {run:.2f} s")
    detail = "longest identical-frame run while moving: " + ", ".join(parts)
    return CheckResult("camera_frozen", worst(statuses), longest, "s", detail)


def check_camera_blank(ep: EpisodeData, scans: Scans, t: Thresholds) -> CheckResult:
    """The longest run in [s] of frames whose mean gray level is near black or white."""
    if not ep.cameras:
        return CheckResult("camera_blank", Status.SKIP, None, "s", "no cameras")
    longest, parts, statuses = 0.0, [], []
    for cam in ep.cameras:
        means = scans[cam].means
        run = max((n for _, n in runs(_blank(means, t))), default=0) / ep.fps
        longest = max(longest, run)
        statuses.append(grade_above(run, t.blank_warn_s, t.blank_fail_s))
        level = f"mean level {np.mean(means):.0f}" if len(means) else "no frames"
        parts.append(f"{cam} {run:.2f} s ({level})")
    return CheckResult("camera_blank", worst(statuses), longest, "s", ", ".join(parts))
