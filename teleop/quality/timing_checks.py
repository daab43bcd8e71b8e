"""Checks on an episode's timing: rates, gaps, order, duration, camera repeats and skew.

Each check is a pure function ``(episode, thresholds) -> CheckResult`` over the rows
and the recorder's ``station/*`` metadata (see ``docs/recording.md``).
"""

from __future__ import annotations

import numpy as np

from teleop.quality.config import Thresholds
from teleop.quality.episode_data import EpisodeData
from teleop.quality.series import longest_run, row_rate_hz
from teleop.quality.verdict import CheckResult, Status, grade_above, grade_below, worst


def check_rates(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Achieved control rate (metadata) and record rate (row times) against their targets.

    The value is the lower of the two ratios achieved / target; below ``rate_fail`` (90%)
    fails.
    """
    ratios, parts = [], []
    control, target = ep.station("control_hz"), ep.station("control_hz_target")
    if control is not None and target:
        ratios.append(control / target)
        parts.append(f"control {control:.1f} of {target:.0f} Hz")
    record = row_rate_hz(ep.columns["t_state_ns"])
    if ep.length >= 2:
        ratios.append(record / ep.fps)
        parts.append(f"record {record:.1f} of {ep.fps} Hz")
    if not ratios:
        return CheckResult("rates", Status.SKIP, None, "", "fewer than two rows, no metadata")
    ratio = min(ratios)
    status = grade_below(ratio, t.rate_warn, t.rate_fail)
    return CheckResult("rates", status, ratio, "of target", ", ".join(parts))


def check_max_gap(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """The largest time between consecutive rows' states, in [ms]."""
    if ep.length < 2:
        return CheckResult("max_gap", Status.SKIP, None, "ms", "fewer than two rows")
    gap_ns = float(np.max(np.diff(ep.columns["t_state_ns"])))
    period_ns = 1e9 / ep.fps
    periods = gap_ns / period_ns
    status = grade_above(periods, t.gap_warn_periods, t.gap_fail_periods)
    skipped = ep.station("row_gaps", 0)
    detail = f"largest {gap_ns / 1e6:.0f} ms = {periods:.1f} row periods; {skipped} slots skipped"
    return CheckResult("max_gap", status, gap_ns / 1e6, "ms", detail)


def check_monotonic(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Row order: state times increase, frame and command times never go back, and
    ``frame_index`` / ``timestamp`` follow the format."""
    cols, problems = ep.columns, {}
    problems["t_state_ns"] = int(np.sum(np.diff(cols["t_state_ns"]) <= 0))
    commands = cols.get("t_command_ns")
    if commands is not None:
        known = commands[commands >= 0]
        problems["t_command_ns"] = int(np.sum(np.diff(known) < 0))
    for cam in ep.cameras:
        frames = cols.get(f"t_frame_ns.{cam}")
        if frames is not None:
            problems[f"t_frame_ns.{cam}"] = int(np.sum(np.diff(frames) < 0))
    index = cols["frame_index"]
    problems["frame_index"] = int(np.sum(index != np.arange(len(index))))
    if "timestamp" in cols:
        off = np.abs(cols["timestamp"].astype(np.float64) - index / ep.fps)
        problems["timestamp"] = int(np.sum(~(off < 1e-4)))
    bad = {k: v for k, v in problems.items() if v}
    total = sum(bad.values())
    detail = ", ".join(f"{k}: {v}" for k, v in bad.items()) if bad else "in order"
    return CheckResult("monotonic", Status.FAIL if total else Status.PASS, total, "rows", detail)


def check_duration(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Episode duration ``length / fps`` in [s] within the bounds."""
    d = ep.duration_s
    if d < t.duration_min_s or d > t.duration_max_s:
        status = Status.FAIL
    else:
        status = Status.WARN if d < t.duration_warn_min_s else Status.PASS
    bounds = f"[{t.duration_min_s:g}, {t.duration_max_s:g}] s"
    return CheckResult("duration", status, d, "s", f"{d:.2f} s, bounds {bounds}")


def check_complete(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Warns on an episode the recorder closed as incomplete (crash, disk full)."""
    complete = ep.station("complete")
    if complete is None:
        return CheckResult("complete", Status.SKIP, None, "", "no station/complete metadata")
    reason = ep.station("stop_reason", "")
    status = Status.PASS if complete else Status.WARN
    return CheckResult("complete", status, float(bool(complete)), "", f"stop reason {reason!r}")


def _repeat_status(frac: float, run_s: float, t: Thresholds) -> Status:
    return worst(
        [
            grade_above(frac, t.repeat_warn_fraction, t.repeat_fail_fraction),
            grade_above(run_s, t.repeat_run_warn_s, t.repeat_run_fail_s),
        ]
    )


def check_camera_repeats(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Per camera: rows that reused the previous row's frame (a stalled camera), and
    frames captured but used by no row (drops, reported only). The value is the
    longest run of repeated frames in [s], over all cameras."""
    if not ep.cameras:
        return CheckResult("camera_repeats", Status.SKIP, None, "s", "no cameras")
    statuses, parts, longest = [], [], 0.0
    for cam in ep.cameras:
        repeat = ep.columns.get(f"frame_repeat.{cam}")
        if repeat is None:
            continue
        frac = float(np.mean(repeat)) if len(repeat) else 0.0
        run_s = longest_run(repeat) / ep.fps
        longest = max(longest, run_s)
        statuses.append(_repeat_status(frac, run_s, t))
        drops = ep.station(f"frame_drops.{cam}", "?")
        parts.append(
            f"{cam}: {int(np.sum(repeat))} repeats ({frac:.1%}), longest run "
            f"{run_s:.2f} s, {drops} drops"
        )
    if not statuses:
        return CheckResult("camera_repeats", Status.SKIP, None, "s", "no frame_repeat columns")
    return CheckResult("camera_repeats", worst(statuses), longest, "s", "; ".join(parts))


def check_frame_skew(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Per camera: p99 of |t_frame - t_state| in [ms] over rows with a fresh frame.

    Rows that reuse a frame are left out: their age is what ``camera_repeats`` judges.
    Within half a row period passes.
    """
    if not ep.cameras:
        return CheckResult("frame_skew", Status.SKIP, None, "ms", "no cameras")
    period_ns, worst_ns, parts = 1e9 / ep.fps, 0.0, []
    for cam in ep.cameras:
        frames = ep.columns.get(f"t_frame_ns.{cam}")
        if frames is None:
            continue
        fresh = ~ep.columns.get(f"frame_repeat.{cam}", np.zeros(len(frames), np.bool_))
        skew = np.abs(frames - ep.columns["t_state_ns"])[fresh].astype(np.float64)
        p99 = float(np.percentile(skew, 99)) if len(skew) else 0.0
        worst_ns = max(worst_ns, p99)
        parts.append(f"{cam} p99 {p99 / 1e6:.1f} ms")
    if not parts:
        return CheckResult("frame_skew", Status.SKIP, None, "ms", "no t_frame_ns columns")
    status = grade_above(worst_ns / period_ns, t.skew_warn_periods, t.skew_fail_periods)
    detail = ", ".join(parts) + f" (half a period: {period_ns / 2e6:.1f} ms)"
    return CheckResult("frame_skew", status, worst_ns / 1e6, "ms", detail)
