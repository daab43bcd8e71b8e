"""Each check as a pure function over arrays: where it turns from pass to warn to fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from teleop.quality import motion_checks as motion
from teleop.quality import timing_checks as timing
from teleop.quality import video_checks as video
from teleop.quality.config import Thresholds, load_thresholds
from teleop.quality.duplicates import (
    Fingerprint,
    check_duplicate,
    content_hash,
    find_duplicate,
    resample,
)
from teleop.quality.episode_data import EpisodeData, JointLimits
from teleop.quality.errors import ThresholdsError
from teleop.quality.series import joint_speeds, longest_run, runs
from teleop.quality.verdict import CheckResult, Status, accepted, grade_above, grade_below, score
from teleop.quality.video_scan import THUMB_SHAPE, VideoScan

T = Thresholds()
FPS = 30
PERIOD_NS = 1_000_000_000 // FPS
NAMES = ("a", "b", "c", "gripper")


def episode(n: int = 90, meta: dict[str, Any] | None = None, **columns: np.ndarray) -> EpisodeData:
    """A clean synthetic episode of ``n`` rows at 30 fps with one camera, ``cam``."""
    t = np.arange(n, dtype=np.int64) * PERIOD_NS + 10**12
    phase = np.arange(n)[:, None] / FPS + np.arange(4)[None, :]
    state = (0.5 * np.sin(2 * np.pi * 0.5 * phase)).astype(np.float32)
    base: dict[str, np.ndarray] = {
        "observation.state": state,
        "action": np.roll(state, -1, axis=0),
        "action.clamped": np.zeros(n, np.bool_),
        "t_state_ns": t,
        "t_command_ns": t - 5_000_000,
        "t_frame_ns.cam": t + 3_000_000,
        "frame_repeat.cam": np.zeros(n, np.bool_),
        "timestamp": (np.arange(n) / FPS).astype(np.float32),
        "frame_index": np.arange(n, dtype=np.int64),
        "episode_index": np.zeros(n, np.int64),
        "index": np.arange(n, dtype=np.int64),
        "task_index": np.zeros(n, np.int64),
    }
    base.update(columns)
    station = {
        "station/control_hz": 100.0,
        "station/control_hz_target": 100.0,
        "station/ticks": 3 * n,
        "station/clamped_ticks": 0,
        "station/complete": True,
        "station/stop_reason": "stop",
        "station/frame_drops.cam": 0,
    }
    station.update(meta or {})
    limits = JointLimits(NAMES, np.array([-1.0, -1.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0, 1.0]))
    return EpisodeData(
        0,
        FPS,
        NAMES,
        ("cam",),
        base,
        station,
        Path("data/x.parquet"),
        {"cam": Path("videos/cam.mp4")},
        limits,
    )


def scan(
    n: int = 90,
    changed: np.ndarray | None = None,
    means: np.ndarray | None = None,
    frames: int | None = None,
) -> dict[str, VideoScan]:
    return {
        "cam": VideoScan(
            "cam",
            n if frames is None else frames,
            np.full(n, 100.0) if means is None else means,
            np.ones(n, np.bool_) if changed is None else changed,
            np.zeros((8, *THUMB_SHAPE), np.float32),
        )
    }


def test_grading_score_and_acceptance() -> None:
    assert grade_above(1.0, 1.0, 2.0) is Status.PASS
    assert grade_above(1.5, 1.0, 2.0) is Status.WARN
    assert grade_above(2.5, 1.0, 2.0) is Status.FAIL
    assert grade_above(float("nan"), 1.0, 2.0) is Status.FAIL
    assert (
        grade_below(0.91, 0.95, 0.9) is Status.WARN and grade_below(0.89, 0.95, 0.9) is Status.FAIL
    )
    checks = [
        CheckResult(n, s, 0.0, "", "")
        for n, s in (("a", Status.PASS), ("b", Status.WARN), ("c", Status.SKIP), ("d", Status.PASS))
    ]
    assert score(checks, 0.5) == pytest.approx(2.5 / 3) and accepted(checks)
    checks.append(CheckResult("e", Status.FAIL, 1.0, "", ""))
    assert score(checks, 0.5) == pytest.approx(2.5 / 4) and not accepted(checks)


def test_clean_synthetic_episode_passes() -> None:
    ep = episode()
    results = [
        f(ep, T)
        for f in (
            timing.check_rates,
            timing.check_max_gap,
            timing.check_monotonic,
            timing.check_camera_repeats,
            timing.check_frame_skew,
            motion.check_finite,
            motion.check_joint_limits,
            motion.check_clamps,
            motion.check_idle,
            motion.check_tracking,
        )
    ]
    results += [
        f(ep, scan(), T)
        for f in (video.check_video_frames, video.check_camera_frozen, video.check_camera_blank)
    ]
    assert {r.name: r.status for r in results if r.status is not Status.PASS} == {}


@pytest.mark.parametrize(
    ("control_hz", "status"), [(100.0, Status.PASS), (92.0, Status.WARN), (89.0, Status.FAIL)]
)
def test_rates_below_90_percent_fail(control_hz: float, status: Status) -> None:
    result = timing.check_rates(episode(meta={"station/control_hz": control_hz}), T)
    assert result.status is status and result.value == pytest.approx(control_hz / 100, abs=1e-3)


def test_record_rate_comes_from_the_row_times() -> None:
    t = np.arange(90, dtype=np.int64) * (PERIOD_NS * 12 // 10)  # rows at 25 Hz
    result = timing.check_rates(episode(t_state_ns=t), T)
    assert result.status is Status.FAIL and "record 25.0 of 30 Hz" in result.detail


@pytest.mark.parametrize(
    ("gap_periods", "status"), [(2, Status.PASS), (3, Status.WARN), (6, Status.FAIL)]
)
def test_largest_gap(gap_periods: int, status: Status) -> None:
    t = np.arange(90, dtype=np.int64) * PERIOD_NS
    t[50:] += (gap_periods - 1) * PERIOD_NS
    result = timing.check_max_gap(episode(t_state_ns=t), T)
    assert result.status is status
    assert result.value == pytest.approx(gap_periods * PERIOD_NS / 1e6)


def test_monotonic_counts_every_kind_of_disorder() -> None:
    t = np.arange(90, dtype=np.int64) * PERIOD_NS
    t[40] = t[39]
    ts = (np.arange(90) / FPS).astype(np.float32)
    ts[10] += 0.01
    frames = t + 1
    frames[60] = frames[58]
    result = timing.check_monotonic(
        episode(t_state_ns=t, timestamp=ts, **{"t_frame_ns.cam": frames}), T
    )
    assert result.status is Status.FAIL and result.value == 3
    assert result.detail == "t_state_ns: 1, t_frame_ns.cam: 1, timestamp: 1"


@pytest.mark.parametrize(
    ("rows", "status"), [(15, Status.FAIL), (45, Status.WARN), (90, Status.PASS)]
)
def test_duration_bounds(rows: int, status: Status) -> None:
    assert timing.check_duration(episode(rows), T).status is status
    assert timing.check_duration(episode(rows), Thresholds(duration_max_s=2.0)).status is (
        Status.FAIL if rows > 60 else status
    )


def test_incomplete_episode_warns() -> None:
    result = timing.check_complete(
        episode(meta={"station/complete": False, "station/stop_reason": "recovered"}), T
    )
    assert result.status is Status.WARN and "recovered" in result.detail


def test_camera_repeats_by_fraction_and_by_run() -> None:
    flags = np.zeros(90, np.bool_)
    flags[[10, 30, 50, 70]] = True  # 4.4% of the rows, runs of one
    result = timing.check_camera_repeats(episode(**{"frame_repeat.cam": flags}), T)
    assert result.status is Status.PASS and "4 repeats (4.4%)" in result.detail
    flags[::3] = True  # a third of the rows: a camera slower than the dataset
    result = timing.check_camera_repeats(episode(**{"frame_repeat.cam": flags}), T)
    assert result.status is Status.WARN
    flags[::2] = True  # most rows: the camera delivers at half the rate or less
    result = timing.check_camera_repeats(episode(**{"frame_repeat.cam": flags}), T)
    assert result.status is Status.FAIL and result.value == pytest.approx(3 / 30)
    flags = np.zeros(90, np.bool_)
    flags[20:28] = True  # one run of 8 rows = 0.27 s
    result = timing.check_camera_repeats(episode(**{"frame_repeat.cam": flags}), T)
    assert result.status is Status.FAIL and result.value == pytest.approx(8 / 30)


def test_frame_skew_is_judged_in_row_periods_over_fresh_frames() -> None:
    t = np.arange(90, dtype=np.int64) * PERIOD_NS
    for skew_ms, status in ((10, Status.PASS), (20, Status.WARN), (40, Status.FAIL)):
        result = timing.check_frame_skew(
            episode(**{"t_frame_ns.cam": t - skew_ms * 10**6, "t_state_ns": t}), T
        )
        assert result.status is status and result.value == pytest.approx(skew_ms)
    stale = t.copy()
    repeat = np.zeros(90, np.bool_)
    stale[41:45], repeat[41:45] = stale[40], True  # repeats are camera_repeats' business
    result = timing.check_frame_skew(
        episode(**{"t_frame_ns.cam": stale, "t_state_ns": t, "frame_repeat.cam": repeat}), T
    )
    assert result.status is Status.PASS


def test_finite_counts_nan_and_inf() -> None:
    state = episode().columns["observation.state"].copy()
    state[5, 1], state[7, 0] = np.inf, np.nan
    result = motion.check_finite(episode(**{"observation.state": state}), T)
    assert result.status is Status.FAIL and result.value == 2
    assert result.detail == "observation.state: 2 (first at row 5)"


def test_joint_limits_leave_the_gripper_out() -> None:
    state = episode().columns["observation.state"].copy()
    state[:, 3] = 1.0  # gripper wide open the whole time: fine
    assert (
        motion.check_joint_limits(episode(**{"observation.state": state}), T).status is Status.PASS
    )
    state[:30, 0] = 0.995  # a third of the rows at joint a's upper limit
    result = motion.check_joint_limits(episode(**{"observation.state": state}), T)
    assert result.status is Status.FAIL and "a: 30" in result.detail
    ep = episode()
    no_limits = EpisodeData(**{**ep.__dict__, "limits": None})
    assert motion.check_joint_limits(no_limits, T).status is Status.SKIP


def test_clamps_from_ticks_or_rows() -> None:
    assert motion.check_clamps(episode(meta={"station/clamped_ticks": 60}), T).status is Status.WARN
    flags = np.zeros(90, np.bool_)
    flags[:60] = True
    ep = episode(meta={"station/ticks": 0}, **{"action.clamped": flags})
    result = motion.check_clamps(ep, T)
    assert result.status is Status.FAIL and result.detail == "60 of 90 rows clamped"


def test_idle_fraction() -> None:
    state = episode().columns["observation.state"].copy()
    state[10:] = state[10]  # still after 1/3 s
    result = motion.check_idle(episode(**{"observation.state": state}), T)
    assert result.status is Status.FAIL and result.value == pytest.approx(79 / 89)
    assert joint_speeds(state[:3], np.array([0, 0, 1])).shape == (2,)


def test_tracking_error_against_the_next_state() -> None:
    ep = episode()
    off = ep.columns["action"].copy()
    off[:, 3] += 0.8  # the gripper held open by an object: not a tracking error
    assert motion.check_tracking(episode(action=off), T).status is Status.PASS
    off[:, 1] += 0.2
    result = motion.check_tracking(episode(action=off), T)
    assert result.status is Status.WARN and "worst joint b" in result.detail
    off[:, 1] += 0.2
    assert motion.check_tracking(episode(action=off), T).status is Status.FAIL


def test_video_frame_count_must_match_rows() -> None:
    result = video.check_video_frames(episode(), scan(frames=88), T)
    assert result.status is Status.FAIL and result.value == 2
    assert "videos/cam.mp4 has 88 frames for 90 rows" in result.detail


def test_frozen_only_while_the_arm_moves() -> None:
    changed = np.ones(90, np.bool_)
    changed[20:60] = False  # 40 frames = 1.33 s alike
    result = video.check_camera_frozen(episode(), scan(changed=changed), T)
    assert result.status is Status.FAIL and result.value == pytest.approx(40 / 30)
    state = episode().columns["observation.state"].copy()
    state[15:65] = state[15]  # ... but the arm was still then: a still scene
    still = video.check_camera_frozen(
        episode(**{"observation.state": state}), scan(changed=changed), T
    )
    assert still.status is Status.PASS


def test_blank_camera() -> None:
    means = np.full(90, 100.0)
    means[10:30] = 3.0  # 0.67 s black
    assert video.check_camera_blank(episode(), scan(means=means), T).status is Status.WARN
    means[30:50] = 252.0  # then 0.67 s white: 1.33 s blank in a row
    result = video.check_camera_blank(episode(), scan(means=means), T)
    assert result.status is Status.FAIL and result.value == pytest.approx(40 / 30)


def test_runs() -> None:
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], np.bool_)
    assert runs(mask) == [(0, 2), (3, 1), (6, 3)] and longest_run(mask) == 3
    assert runs(np.zeros(3, np.bool_)) == [] and longest_run(np.zeros(0, np.bool_)) == 0


def _fp(index: int, ep: EpisodeData, thumbs: float = 50.0, video_sha: str = "v") -> Fingerprint:
    return Fingerprint(
        index,
        content_hash(ep, {"cam": video_sha}),
        resample(ep.columns["observation.state"]),
        {"cam": np.full((8, *THUMB_SHAPE), thumbs, np.float32)},
    )


def test_duplicates_exact_near_and_distinct() -> None:
    ep = episode()
    renumbered = episode(episode_index=np.full(90, 7), index=np.arange(90) + 500)
    first = _fp(0, ep)
    assert find_duplicate(_fp(3, renumbered), [first], T) == find_duplicate(_fp(3, ep), [first], T)
    exact = find_duplicate(_fp(3, renumbered), [first], T)
    assert exact is not None and exact.exact and exact.of_episode == 0
    replay = episode(**{"observation.state": ep.columns["observation.state"] + 0.01})
    near = find_duplicate(_fp(4, replay, thumbs=52.0, video_sha="w"), [first], T)
    assert near is not None and not near.exact and near.trajectory_rad == pytest.approx(0.01, 1e-3)
    assert "near-duplicate of episode 0" in check_duplicate(near, 1).detail
    other_scene = _fp(4, replay, thumbs=90.0, video_sha="w")
    assert find_duplicate(other_scene, [first], T) is None  # same motion, other images
    moved = episode(**{"observation.state": ep.columns["observation.state"] + 0.3})
    assert find_duplicate(_fp(5, moved, video_sha="x"), [first], T) is None
    assert find_duplicate(first, [_fp(2, ep)], T) is None  # only earlier episodes count
    assert check_duplicate(None, 4).status is Status.PASS


def test_fingerprint_round_trips_through_json() -> None:
    fp = _fp(2, episode(), thumbs=12.4)
    back = Fingerprint.from_dict(json.loads(json.dumps(fp.to_dict())))
    assert back.content_sha256 == fp.content_sha256 and back.episode_index == 2
    np.testing.assert_allclose(back.trajectory, fp.trajectory, atol=1e-5)
    np.testing.assert_array_equal(back.thumbs["cam"], np.full((8, *THUMB_SHAPE), 12.0))


def test_thresholds_are_validated() -> None:
    with pytest.raises(ThresholdsError, match=r"rate_fail .* must not exceed rate_warn"):
        Thresholds(rate_fail=0.97)
    with pytest.raises(ThresholdsError, match=r"frozen_warn_s .* must not exceed frozen_fail_s"):
        Thresholds(frozen_warn_s=2.0)
    with pytest.raises(ThresholdsError, match="idle_fail_fraction is a fraction"):
        Thresholds(idle_fail_fraction=1.5)
    with pytest.raises(ThresholdsError, match="must be finite and >= 0"):
        Thresholds(gap_fail_periods=-1)
    with pytest.raises(ThresholdsError, match="must be a number"):
        Thresholds(gap_fail_periods="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown threshold 'rate_fial'"):
        Thresholds.from_mapping({"rate_fial": 0.5})


def test_thresholds_files(tmp_path: Path) -> None:
    (tmp_path / "t.toml").write_text("idle_warn_fraction = 0.3\n")
    assert load_thresholds(tmp_path / "t.toml").idle_warn_fraction == 0.3
    (tmp_path / "t.json").write_text('{"tracking_fail_rad": 0.5}')
    assert load_thresholds(tmp_path / "t.json").tracking_fail_rad == 0.5
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ThresholdsError, match=r"bad\.json is not valid"):
        load_thresholds(tmp_path / "bad.json")
    with pytest.raises(ThresholdsError, match="cannot read thresholds file"):
        load_thresholds(tmp_path / "missing.toml")
