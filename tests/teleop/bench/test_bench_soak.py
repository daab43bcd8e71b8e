"""The soak benchmark's one-minute version, as CI runs it (issue 8, part B)."""

from __future__ import annotations

from teleop.bench.soak import run_soak_bench


def test_one_minute_soak_records_and_keeps_its_rate() -> None:
    figures = {f.name: f for f in run_soak_bench(minutes=1.0)}
    rss = figures["server RSS start → end, 1 min"]
    assert rss.reference_value is not None and rss.reference_value < 300  # MiB per minute
    overrun = figures["overrun fraction"]
    assert isinstance(overrun.value, float) and overrun.value < 5.0  # percent, generous
    rows = figures["recorded rows, frames repeated / dropped per minute"]
    assert isinstance(rows.value, str) and int(rows.value.split()[0]) > 900
    connections = figures["observer connections made (reconnect every 30 s)"]
    assert isinstance(connections.value, int) and connections.value >= 8  # each reconnected
