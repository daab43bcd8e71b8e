"""Active time: how long the arm moved while an operator held the lease.

:class:`ActivityMeter` is fed the joint state once per control tick (or per ``state``
message) and adds up the intervals in which some joint moved faster than a speed
threshold, the same rule as the ``idle`` check. It does no I/O and allocates nothing
per call beyond numpy's arithmetic, so the control loop may call it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from teleop.quality.config import Thresholds

MAX_INTERVAL_NS = 500_000_000
"""A longer pause between two samples is not counted (the stream stalled)."""


class ActivityMeter:
    """Adds up the time in [s] during which the arm moved.

    Args:
        idle_speed: Speed in [rad/s] (gripper: opening per second) below which every
            joint counts as still; the ``idle`` check's default.
    """

    def __init__(self, idle_speed: float = Thresholds.idle_speed) -> None:
        self.idle_speed = float(idle_speed)
        self.active_s = 0.0
        self._t_ns: int | None = None
        self._q: np.ndarray | None = None

    def update(self, t_ns: int, q: ArrayLike) -> None:
        """Take one sample: time in [ns] (``time.monotonic_ns()``) and joint positions."""
        arr = np.asarray(q, np.float64)
        if self._t_ns is not None and self._q is not None and self._q.shape == arr.shape:
            dt_ns = t_ns - self._t_ns
            if 0 < dt_ns <= MAX_INTERVAL_NS:
                speed = float(np.max(np.abs(arr - self._q))) * 1e9 / dt_ns
                if speed >= self.idle_speed:
                    self.active_s += dt_ns / 1e9
        self._t_ns, self._q = t_ns, arr

    def pause(self) -> None:
        """Forget the last sample, e.g. when the lease changes hands."""
        self._t_ns, self._q = None, None
