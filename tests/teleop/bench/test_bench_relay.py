"""``teleop bench relay`` produces its figures (the numbers themselves are not asserted)."""

from __future__ import annotations

import pytest

from teleop.bench.relay import OBSERVERS, RATES_HZ, run_relay_bench


def values(text: str | float) -> list[float]:
    return [float(x) for x in str(text).split(" / ")]


def test_relay_bench_reports_latency_round_trip_and_overruns_beside_the_floor() -> None:
    figures = {f.name: f for f in run_relay_bench(seconds=1.0)}
    floor_p50, floor_p99 = values(figures["websockets echo round trip p50 / p99 (floor)"].value)
    assert 0 < floor_p50 <= floor_p99
    for rate in RATES_HZ:
        label = f"{rate:.0f} Hz, {OBSERVERS} observers"
        p50, p99, worst = values(figures[f"server-added latency p50 / p99 / max, {label}"].value)
        assert 0 < p50 <= p99 <= worst
        rtt = figures[f"command→state round trip p50 / p99, {label}"]
        assert 0 < values(rtt.value)[0]
        assert rtt.reference_value == pytest.approx(2 * floor_p50 + 1e6 / rate, abs=1.0)
        assert 0 <= float(figures[f"tick overruns, {label}"].value) <= 100
    no_cameras = f"server-added latency p50 / p99 / max, 200 Hz, {OBSERVERS} observers, "
    assert values(figures[no_cameras + "sim without cameras"].value)[0] > 0
