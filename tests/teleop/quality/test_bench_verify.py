"""``teleop bench verify`` produces its figures on a small dataset (the numbers
themselves are not asserted: timing belongs in the benchmark)."""

from __future__ import annotations

from pathlib import Path

from teleop.bench.verify import run_verify_bench


def test_verify_bench_reports_throughput_beside_real_time(tmp_path: Path) -> None:
    figures = {
        f.name.split(" (")[0]: f
        for f in run_verify_bench(0.1, episodes=3, episode_s=1.0, cache_dir=tmp_path)
    }
    per_s = figures["episodes verified per s"]
    assert isinstance(per_s.value, float) and per_s.value > 0
    assert per_s.reference_value is not None
    assert abs(per_s.reference_value - 1.0) < 0.1  # 1 s episodes: recorded at one per second
    assert figures["video-minutes verified per s"].reference_value == 2 / 60  # two cameras
    assert figures["speed-up over real time"].reference_value == 20.0
    assert figures["episodes intact"].value == 3.0  # "(signatures match)"
    assert (tmp_path / "teleop-bench-verify-v1-3x1s" / "complete.json").is_file()
    again = run_verify_bench(0.1, episodes=3, episode_s=1.0, cache_dir=tmp_path)  # cached
    assert len(again) == len(figures)
