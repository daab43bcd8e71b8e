"""``teleop bench bus`` produces its figures (the numbers themselves are not asserted)."""

from __future__ import annotations

from teleop.bench.bus import run_bus_bench


def test_bus_bench_reports_sync_read_write_and_the_floor() -> None:
    figures = {f.name: f for f in run_bus_bench(seconds=0.8)}
    read = figures["sync read 6 servos x 15 B p50 / p99"]
    p50, p99 = (float(x) for x in str(read.value).split(" / "))
    assert 0 < p50 <= p99
    assert read.reference_value is not None and read.reference_value > 0
    assert "sync write goal, 6 servos p50 / p99" in figures
    assert "so101 read()+command() p50 / p99" in figures
