"""Tick statistics: rate and jitter over the window, counts always current."""

from __future__ import annotations

import pytest

from teleop.tickstats import TickStats

PERIOD_NS = 10_000_000  # 100 Hz


def _record(stats: TickStats, n: int, jitter_ns: int = 0, first: int = 0) -> None:
    for i in range(first, first + n):
        deadline = i * PERIOD_NS
        stats.record(deadline, deadline + jitter_ns, deadline + jitter_ns + 1_000)


def test_rate_and_jitter_over_the_window() -> None:
    stats = TickStats(PERIOD_NS, refresh_s=0.0)
    _record(stats, 200, jitter_ns=300_000)
    snap = stats.snapshot()
    assert snap.rate_hz == pytest.approx(100.0)
    assert snap.jitter_p99_ms == pytest.approx(0.3)
    assert (snap.ticks, snap.overruns, snap.overrun_fraction) == (200, 0, 0.0)


def test_counts_are_current_while_the_windowed_figures_are_reused() -> None:
    stats = TickStats(PERIOD_NS, refresh_s=60.0)
    _record(stats, 100)
    first = stats.snapshot()
    _record(stats, 100, jitter_ns=5_000_000, first=100)  # late starts...
    stats.record(200 * PERIOD_NS, 200 * PERIOD_NS, 202 * PERIOD_NS)  # ...and an overrun
    stats.missed(3)
    later = stats.snapshot()
    assert later.jitter_p99_ms == first.jitter_p99_ms  # reused within refresh_s
    assert (later.ticks, later.overruns) == (204, 4)
    assert later.overrun_fraction == pytest.approx(4 / 204)
