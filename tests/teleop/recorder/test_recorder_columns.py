"""An episode's ``station/*`` columns, built from a journal header, counts and rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from teleop.recorder.columns import StationColumns
from teleop.recorder.model import EpisodeCounts
from teleop.recorder.rows import Row

DOCS = Path(__file__).resolve().parents[3] / "docs" / "recording.md"
HEADER = {
    "operator": "alice", "station_id": "st-1", "robot_type": "fake", "software_version": "0.1",
    "codec": "libx264", "started_at": "2025-01-01T00:00:00Z", "control_hz": 100, "fps": 30,
    "cameras": ["front", "wrist"],
}  # fmt: skip


def row(t_ns: int) -> Row:
    z = np.zeros(3)
    return Row(t_ns, -1, z, z, z, z, 0.0, z, z, False, (t_ns, t_ns), (False, False))


def test_columns_come_in_the_dataset_order_with_one_set_per_camera() -> None:
    counts = EpisodeCounts(ticks=101, first_tick_ns=0, last_tick_ns=1_000_000_000,
                           frame_repeats={"front": 2}, frame_drops={"wrist": 1},
                           max_skew_ns={"front": 5_000_000})  # fmt: skip
    rows = [row(k * 100_000_000) for k in range(11)]  # 10 Hz over 1 s
    station = StationColumns.build(HEADER, counts, rows, rows_lost=3, complete=False,
                                   success=None, stop_reason="recovered")  # fmt: skip
    columns = station.columns()
    assert list(columns)[:3] == ["complete", "success", "stop_reason"]
    assert list(columns)[-6:] == [
        "frame_repeats.front", "frame_drops.front", "max_frame_skew_ns.front",
        "frame_repeats.wrist", "frame_drops.wrist", "max_frame_skew_ns.wrist",
    ]  # fmt: skip
    assert columns["control_hz"] == 100.0 and columns["control_hz_target"] == 100.0
    assert columns["record_hz"] == 10.0 and columns["record_hz_target"] == 30.0
    assert columns["frame_repeats.front"] == 2 and columns["frame_repeats.wrist"] == 0
    assert columns["frame_drops.wrist"] == 1 and columns["max_frame_skew_ns.front"] == 5_000_000
    assert (columns["rows_lost"], columns["operator"], columns["ticks"]) == (3, "alice", 101)


def test_every_column_is_documented() -> None:
    station = StationColumns.build(HEADER, EpisodeCounts(), [], rows_lost=0, complete=True,
                                   success=True, stop_reason="stop")  # fmt: skip
    documented = set(re.findall(r"`station/([\w.]+?)(?:\.<camera>)?`", DOCS.read_text()))
    for name in station.columns():
        assert name.split(".")[0] in documented, name
