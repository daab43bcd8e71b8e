"""Small numeric helpers over per-row series: runs of flags, rates, speeds."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of every run of True in a 1-D boolean array, in order."""
    flags = np.concatenate([[False], np.asarray(mask, np.bool_), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    return [(int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True (0 when there is none)."""
    return max((length for _, length in runs(mask)), default=0)


def row_rate_hz(t_ns: np.ndarray) -> float:
    """Achieved rate in [Hz]: (rows - 1) / time span (0 below two rows or no span)."""
    if len(t_ns) < 2 or t_ns[-1] <= t_ns[0]:
        return 0.0
    return (len(t_ns) - 1) * 1e9 / float(t_ns[-1] - t_ns[0])


def joint_speeds(q: np.ndarray, t_ns: np.ndarray) -> np.ndarray:
    """Largest joint speed between consecutive rows, in [rad/s] (gripper: 1/s).

    Args:
        q: Joint positions, shape ``(rows, joints)``.
        t_ns: Row times in [ns], shape ``(rows,)``.

    Returns:
        Shape ``(rows - 1,)``; NaN where a position is not finite or time stood still.
    """
    if len(q) < 2:
        return np.zeros(0)
    dt = np.diff(t_ns).astype(np.float64) / 1e9
    dq = np.abs(np.diff(q.astype(np.float64), axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = dq.max(axis=1) / np.where(dt > 0, dt, np.nan)
    return speed
