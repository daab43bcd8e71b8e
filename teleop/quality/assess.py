"""Run every check on one episode: the part shared by ``close_episode`` and ``teleop verify``.

:func:`assess` reads the episode's rows, hashes its files, decodes each camera's MP4
once, runs the checks in :data:`CHECK_NAMES` order, and looks for an earlier episode it
duplicates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from teleop.quality import motion_checks as motion
from teleop.quality import timing_checks as timing
from teleop.quality import video_checks as video
from teleop.quality.config import Thresholds
from teleop.quality.duplicates import (
    DuplicateMatch,
    Fingerprint,
    check_duplicate,
    find_duplicate,
    fingerprint,
)
from teleop.quality.episode_data import DatasetView, EpisodeData
from teleop.quality.store import sha256_file
from teleop.quality.verdict import CheckResult, accepted, score
from teleop.quality.video_scan import VideoScan, scan_video

Check = Callable[[EpisodeData, Mapping[str, VideoScan], Thresholds], CheckResult]


def _rows(check: Callable[[EpisodeData, Thresholds], CheckResult]) -> Check:
    """A rows-only check, called with the video scans like the others."""
    return lambda ep, scans, t: check(ep, t)


CHECKS: tuple[tuple[str, Check], ...] = (
    ("rates", _rows(timing.check_rates)),
    ("max_gap", _rows(timing.check_max_gap)),
    ("monotonic", _rows(timing.check_monotonic)),
    ("duration", _rows(timing.check_duration)),
    ("complete", _rows(timing.check_complete)),
    ("finite", _rows(motion.check_finite)),
    ("camera_repeats", _rows(timing.check_camera_repeats)),
    ("frame_skew", _rows(timing.check_frame_skew)),
    ("video_frames", video.check_video_frames),
    ("camera_frozen", video.check_camera_frozen),
    ("camera_blank", video.check_camera_blank),
    ("joint_limits", _rows(motion.check_joint_limits)),
    ("clamps", _rows(motion.check_clamps)),
    ("idle", _rows(motion.check_idle)),
    ("tracking", _rows(motion.check_tracking)),
)
CHECK_NAMES: tuple[str, ...] = (*(name for name, _ in CHECKS), "duplicate")
"""Every check, in report order; ``duplicate`` compares with earlier episodes."""


@dataclasses.dataclass(frozen=True)
class Assessment:
    """One episode, checked.

    Attributes:
        episode: Its rows and metadata.
        checks: Every check's result, in :data:`CHECK_NAMES` order.
        score: Quality score in [0, 1].
        accepted: No check failed.
        fingerprint: For comparing later episodes with this one.
        duplicate: The earlier episode it duplicates, if any.
        file_hashes: Relative path -> (SHA-256 hex, size in bytes) of its data and video
            files that exist.
    """

    episode: EpisodeData
    checks: tuple[CheckResult, ...]
    score: float
    accepted: bool
    fingerprint: Fingerprint
    duplicate: DuplicateMatch | None
    file_hashes: dict[str, tuple[str, int]]


def run_checks(ep: EpisodeData, scans: Mapping[str, VideoScan], t: Thresholds) -> list[CheckResult]:
    """Every per-episode check (all but ``duplicate``), in order."""
    return [check(ep, scans, t) for _, check in CHECKS]


def _hashes(view: DatasetView, ep: EpisodeData) -> dict[str, tuple[str, int]]:
    out = {}
    for rel in (ep.data_file, *ep.video_files.values()):
        try:
            out[rel.as_posix()] = sha256_file(view.root / rel)
        except FileNotFoundError:
            continue
    return out


def assess(
    view: DatasetView, index: int, t: Thresholds, earlier: Sequence[Fingerprint]
) -> Assessment:
    """Check one episode of ``view``.

    Args:
        view: The dataset.
        index: The episode.
        t: The thresholds.
        earlier: Fingerprints of the episodes to look for duplicates among (only those
            with a smaller index count).

    Raises:
        DatasetReadError: The episode's data file is missing or unreadable.
    """
    ep = view.load(index)
    hashes = _hashes(view, ep)
    scans = {
        cam: scan_video(view.root / rel, cam, ep.length) for cam, rel in ep.video_files.items()
    }
    video_sha = {cam: hashes.get(rel.as_posix(), ("", 0))[0] for cam, rel in ep.video_files.items()}
    fp = fingerprint(ep, scans, video_sha)
    match = find_duplicate(fp, earlier, t)
    compared = sum(1 for f in earlier if f.episode_index < index)
    checks = (*run_checks(ep, scans, t), check_duplicate(match, compared))
    return Assessment(ep, checks, score(checks, t.warn_weight), accepted(checks), fp, match, hashes)
