"""Checks on what the arm did: finite values, joint limits, clamps, idling, tracking.

Each check is a pure function ``(episode, thresholds) -> CheckResult``. Non-finite values
are the ``finite`` check's business alone: the others leave such rows out.
"""

from __future__ import annotations

import numpy as np

from teleop.quality.config import Thresholds
from teleop.quality.episode_data import EpisodeData
from teleop.quality.series import joint_speeds
from teleop.quality.verdict import CheckResult, Status, grade_above


def check_finite(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """NaN or inf anywhere in the rows' floating-point columns."""
    bad: dict[str, tuple[int, int]] = {}
    for name, values in ep.columns.items():
        if values.dtype.kind != "f":
            continue
        mask = ~np.isfinite(values)
        if mask.any():
            rows = mask if mask.ndim == 1 else mask.any(axis=1)
            bad[name] = (int(mask.sum()), int(np.flatnonzero(rows)[0]))
    total = sum(n for n, _ in bad.values())
    if not total:
        return CheckResult("finite", Status.PASS, 0, "values", "every value finite")
    detail = ", ".join(f"{k}: {n} (first at row {row})" for k, (n, row) in bad.items())
    return CheckResult("finite", Status.FAIL, total, "values", detail)


def check_joint_limits(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Rows with an arm joint within ``limit_margin`` of its range from a position limit.

    The gripper is left out: fully open and fully closed are its ordinary states.
    """
    limits = ep.limits
    q = ep.columns["observation.state"]
    if limits is None or len(limits.lower) != q.shape[1]:
        return CheckResult(
            "joint_limits",
            Status.SKIP,
            None,
            "of rows",
            "no joint limits published in meta/station/robot.json",
        )
    lower, upper = limits.lower[:-1], limits.upper[:-1]
    margin = t.limit_margin * (upper - lower)
    arm = q[:, :-1]
    at_limit = (arm <= lower + margin) | (arm >= upper - margin)
    rows = at_limit.any(axis=1)
    frac = float(np.mean(rows)) if len(rows) else 0.0
    counts = at_limit.sum(axis=0)
    hits = [f"{n}: {c}" for n, c in zip(limits.names[:-1], counts, strict=True) if c]
    detail = f"{int(rows.sum())} rows at a limit" + (f" ({', '.join(hits)})" if hits else "")
    status = grade_above(frac, t.limit_warn_fraction, t.limit_fail_fraction)
    return CheckResult("joint_limits", status, frac, "of rows", detail)


def check_clamps(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Ticks on which the safety filter changed or held the request.

    Counted over every control tick (``station/clamped_ticks`` / ``station/ticks``) when
    the recorder wrote them, else over the rows' ``action.clamped``.
    """
    ticks, clamped = ep.station("ticks", 0), ep.station("clamped_ticks")
    if ticks and clamped is not None:
        frac, detail = clamped / ticks, f"{clamped} of {ticks} ticks clamped"
    elif "action.clamped" in ep.columns:
        flags = ep.columns["action.clamped"]
        frac = float(np.mean(flags)) if len(flags) else 0.0
        detail = f"{int(np.sum(flags))} of {len(flags)} rows clamped"
    else:
        return CheckResult("clamps", Status.SKIP, None, "of ticks", "no clamp counts")
    status = grade_above(frac, t.clamp_warn_fraction, t.clamp_fail_fraction)
    return CheckResult("clamps", status, frac, "of ticks", detail)


def idle_fraction(q: np.ndarray, t_ns: np.ndarray, idle_speed: float) -> float:
    """Fraction of the row intervals in which every joint moved slower than ``idle_speed``
    [rad/s]; an interval with a non-finite position counts as moving (``finite`` judges it)."""
    speeds = joint_speeds(q, t_ns)
    return float(np.mean(speeds < idle_speed)) if len(speeds) else 0.0


def check_idle(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """Fraction of the episode in which the arm (and gripper) stood still."""
    if ep.length < 2:
        return CheckResult("idle", Status.SKIP, None, "of time", "fewer than two rows")
    frac = idle_fraction(ep.columns["observation.state"], ep.columns["t_state_ns"], t.idle_speed)
    status = grade_above(frac, t.idle_warn_fraction, t.idle_fail_fraction)
    detail = f"still {frac:.0%} of the time (below {t.idle_speed:g} rad/s)"
    return CheckResult("idle", status, frac, "of time", detail)


def check_tracking(ep: EpisodeData, t: Thresholds) -> CheckResult:
    """How far the arm got from each commanded target by the next row.

    The value is the p95 over rows of the largest arm-joint |action[k] - state[k+1]|, in
    [rad]. The gripper is left out: holding an object keeps it from its target by design.
    """
    action, state = ep.columns.get("action"), ep.columns["observation.state"]
    if action is None or ep.length < 2 or state.shape[1] < 2:
        return CheckResult("tracking", Status.SKIP, None, "rad", "no action column or one row")
    err = np.abs(action[:-1, :-1].astype(np.float64) - state[1:, :-1])
    with np.errstate(invalid="ignore"):
        per_row = np.where(np.isfinite(err).all(axis=1), err.max(axis=1), np.nan)
    if not np.isfinite(per_row).any():
        return CheckResult("tracking", Status.SKIP, None, "rad", "no finite rows")
    p95 = float(np.nanpercentile(per_row, 95))
    worst_joint = int(np.nanargmax(np.nanmax(err, axis=0)))
    name = ep.joint_names[worst_joint] if worst_joint < len(ep.joint_names) else str(worst_joint)
    status = grade_above(p95, t.tracking_warn_rad, t.tracking_fail_rad)
    return CheckResult("tracking", status, p95, "rad", f"p95 {p95:.3f} rad, worst joint {name}")
