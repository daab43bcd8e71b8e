"""Good and bad episodes from the fake arm: each bad one is caught by exactly the check
meant for it, and the clean one passes every check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qualitykit import (
    CLEAN,
    REPLAY,
    SLOW,
    append_copy,
    edit_column,
    episode_length,
    first_frame,
    video_file,
    write_video,
)

from robots.base import RobotSpec
from teleop.quality import EpisodeVerdict, Status
from teleop.quality.assess import CHECK_NAMES
from teleop.quality.signing import StationKey
from teleop.station.episode_close import close_episode


def close_all(root: Path, key: StationKey, spec: RobotSpec) -> list[EpisodeVerdict]:
    episodes = json.loads((root / "meta/info.json").read_text())["total_episodes"]
    return [
        close_episode(
            root,
            i,
            key=key,
            ledger=None,
            contributor="token:0123456789ab",
            contributor_name="alice",
            spec=spec,
        )
        for i in range(episodes)
    ]


def flagged(verdict: EpisodeVerdict) -> dict[str, str]:
    """Every check that did not pass: name -> status."""
    return {c.name: c.status.value for c in verdict.checks if c.status is not Status.PASS}


def test_clean_episode_passes_every_check(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    verdict = close_all(dataset, key, spec)[CLEAN]
    assert [c.name for c in verdict.checks] == list(CHECK_NAMES)
    assert flagged(verdict) == {}, verdict.summary()
    assert verdict.score == 1.0 and verdict.accepted and verdict.duplicate_of is None
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["rates"].value is not None and by_name["rates"].value > 0.95
    assert by_name["video_frames"].value == 0
    assert by_name["finite"].value == 0


def test_slow_loop_fails_only_the_rates(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    verdict = close_all(dataset, key, spec)[SLOW]
    assert flagged(verdict) == {"rates": "fail"}, verdict.summary()
    rates = next(c for c in verdict.checks if c.name == "rates")
    assert rates.value is not None and 0.4 < rates.value < 0.6  # 50 Hz of 100 Hz
    assert rates.detail.startswith("control 4") or rates.detail.startswith("control 5")
    assert not verdict.accepted and verdict.score == pytest.approx(15 / 16)


def test_replay_is_a_near_duplicate_of_the_first(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    verdict = close_all(dataset, key, spec)[REPLAY]
    assert flagged(verdict) == {"duplicate": "fail"}, verdict.summary()
    assert verdict.duplicate_of == CLEAN
    assert "near-duplicate of episode 0" in verdict.summary()


def test_reuploaded_copy_is_an_exact_duplicate(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    copy = append_copy(dataset, CLEAN)
    verdict = close_all(dataset, key, spec)[copy]
    assert flagged(verdict) == {"duplicate": "fail"}, verdict.summary()
    assert verdict.duplicate_of == CLEAN
    assert "exact duplicate of episode 0" in verdict.summary()


def test_frozen_camera_fails_only_camera_frozen(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    path = video_file(dataset, "front", CLEAN)
    still = first_frame(path)
    write_video(path, [still] * episode_length(dataset, CLEAN))
    verdict = close_all(dataset, key, spec)[CLEAN]
    assert flagged(verdict) == {"camera_frozen": "fail"}, verdict.summary()
    frozen = next(c for c in verdict.checks if c.name == "camera_frozen")
    assert frozen.value is not None and frozen.value > 2.0  # the whole 2.5 s episode
    assert "front" in frozen.detail


def test_black_camera_fails_only_camera_blank(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    n = episode_length(dataset, CLEAN)
    black = np.zeros((240, 320, 3), np.uint8)
    write_video(video_file(dataset, "wrist", CLEAN), [black] * n)
    verdict = close_all(dataset, key, spec)[CLEAN]
    assert flagged(verdict) == {"camera_blank": "fail"}, verdict.summary()


def test_dropped_frame_run_fails_only_camera_repeats(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    # The wrist camera stalls for 12 rows (0.4 s): those rows reuse frame 20.
    run = slice(21, 33)

    def stall_times(t: np.ndarray) -> np.ndarray:
        t[run] = t[20]
        return t

    def stall_flags(flags: np.ndarray) -> np.ndarray:
        flags[run] = True
        return flags

    edit_column(dataset, CLEAN, "t_frame_ns.wrist", stall_times)
    edit_column(dataset, CLEAN, "frame_repeat.wrist", stall_flags)
    verdict = close_all(dataset, key, spec)[CLEAN]
    assert flagged(verdict) == {"camera_repeats": "fail"}, verdict.summary()
    repeats = next(c for c in verdict.checks if c.name == "camera_repeats")
    assert repeats.value == pytest.approx(0.4)
    assert "wrist: 12 repeats" in repeats.detail


def test_nan_fails_only_finite(dataset: Path, key: StationKey, spec: RobotSpec) -> None:
    def poison(q: np.ndarray) -> np.ndarray:
        q[30, 2] = np.nan
        return q

    edit_column(dataset, CLEAN, "observation.state", poison)
    verdict = close_all(dataset, key, spec)[CLEAN]
    assert flagged(verdict) == {"finite": "fail"}, verdict.summary()
    finite = next(c for c in verdict.checks if c.name == "finite")
    assert finite.value == 1 and "observation.state: 1 (first at row 30)" in finite.detail


def test_stored_verdict_and_fingerprint_beside_the_dataset(
    dataset: Path, key: StationKey, spec: RobotSpec
) -> None:
    verdicts = close_all(dataset, key, spec)
    stored = json.loads((dataset / "meta/station/quality/episode_000001.json").read_text())
    assert stored["score"] == verdicts[SLOW].score and stored["accepted"] is False
    assert [c["name"] for c in stored["checks"]] == list(CHECK_NAMES)
    assert stored["contributor"] == {"principal": "token:0123456789ab", "name": "alice"}
    robot = json.loads((dataset / "meta/station/robot.json").read_text())
    assert robot["joint_names"] == list(spec.joint_names)
    fingerprint = json.loads(
        (dataset / "meta/station/fingerprints/episode_000000.json").read_text()
    )
    assert len(fingerprint["trajectory"]) == 32 and set(fingerprint["thumbs"]) == {"front", "wrist"}
