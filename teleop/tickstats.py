"""Control-tick statistics: achieved rate, jitter and overruns over a sliding window.

The control thread records; any other thread may take a snapshot. A snapshot taken
while a tick is being recorded can be off by that one tick, which is harmless here.

The rate and the jitter percentile describe the last ``window`` ticks (seconds of
history), so a snapshot recomputes them at most every ``refresh_s``: the server takes a
snapshot for every state it sends, and a percentile each time was a fifth of its network
thread's work. The tick and overrun counts are always current.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class LoopStats:
    """The loop's timing over the last window.

    Attributes:
        rate_hz: Achieved tick rate in [Hz].
        jitter_p99_ms: 99th percentile of |tick start − deadline| in [ms].
        overruns: Ticks since start whose work ended after the next deadline.
        overrun_fraction: Overruns divided by ticks, since start.
        ticks: Ticks since start.
    """

    rate_hz: float
    jitter_p99_ms: float
    overruns: int
    overrun_fraction: float
    ticks: int

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


class TickStats:
    """Ring buffers of tick start times and jitters.

    Args:
        period_ns: The nominal tick period in [ns].
        window: How many recent ticks the rate and jitter are computed over.
        refresh_s: How long a computed rate and jitter are reused, in [s].
    """

    def __init__(self, period_ns: int, window: int = 2000, refresh_s: float = 0.1) -> None:
        self.period_ns = period_ns
        self.refresh_s = refresh_s
        self._windowed: tuple[float, float] = (0.0, 0.0)  # rate [Hz], jitter p99 [ms]
        self._windowed_at = -float("inf")
        self._starts = np.zeros(window, dtype=np.int64)
        self._jitter = np.zeros(window, dtype=np.int64)
        self.ticks = 0
        self.overruns = 0
        self._recorded = 0

    def record(self, deadline_ns: int, start_ns: int, end_ns: int) -> bool:
        """Record one tick; return whether it overran (ended past the next deadline)."""
        i = self._recorded % self._starts.size
        self._starts[i] = start_ns
        self._jitter[i] = abs(start_ns - deadline_ns)
        self._recorded += 1
        self.ticks += 1
        overran = end_ns > deadline_ns + self.period_ns
        self.overruns += overran
        return overran

    def missed(self, n: int) -> None:
        """Count ``n`` ticks that never ran (the loop fell behind and skipped them)."""
        self.ticks += n
        self.overruns += n

    def snapshot(self) -> LoopStats:
        now = time.monotonic()
        if now - self._windowed_at >= self.refresh_s:
            self._windowed, self._windowed_at = self._window_stats(), now
        rate, jitter = self._windowed
        fraction = self.overruns / self.ticks if self.ticks else 0.0
        return LoopStats(rate, jitter, self.overruns, fraction, self.ticks)

    def _window_stats(self) -> tuple[float, float]:
        n = min(self._recorded, self._starts.size)
        if n < 2:
            return 0.0, 0.0
        starts = self._starts[:n]
        span_ns = int(starts.max() - starts.min())
        rate = (n - 1) / (span_ns / 1e9) if span_ns > 0 else 0.0
        return rate, float(np.percentile(self._jitter[:n], 99)) / 1e6
