"""The append-only journal survives a cut tail; a file without a header is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from teleop.recorder.errors import JournalError
from teleop.recorder.journal import JournalWriter, read_journal
from teleop.recorder.rows import Row


def row(i: int) -> Row:
    v = np.full(6, float(i))
    return Row(i, -1, v, v, v, np.zeros(3), 0.5, v, v, False, (i + 1,), (False,))


def test_rows_counts_and_end_come_back(tmp_path: Path) -> None:
    path = tmp_path / "rows.msgpack"
    journal = JournalWriter(path, {"task": "t", "fps": 30}, flush_interval_s=0.05)
    for i in range(5):
        journal.append("row", row(i).to_record())
    journal.append("counts", {"ticks": 17})
    journal.append("end", {"success": True})
    journal.close()
    assert journal.error is None and journal.records == 7
    got = read_journal(path)
    assert got.header["task"] == "t" and got.header["version"] == 1
    assert [r.t_state_ns for r in got.rows] == [0, 1, 2, 3, 4]
    assert got.rows[3].frame_t_ns == (4,) and got.rows[3].q.tolist() == [3.0] * 6
    assert got.counts == {"ticks": 17} and got.end == {"success": True}
    assert got.bytes_ignored == 0


def test_a_cut_tail_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "rows.msgpack"
    journal = JournalWriter(path, {"task": "t"}, flush_interval_s=0.05)
    for i in range(3):
        journal.append("row", row(i).to_record())
    journal.close()
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # a kill in the middle of the last record
    got = read_journal(path)
    assert len(got.rows) == 2 and got.end is None and got.bytes_ignored > 0


def test_a_journal_needs_its_header(tmp_path: Path) -> None:
    path = tmp_path / "rows.msgpack"
    path.write_bytes(b"\x92\xa3row\x90")  # ["row", []]
    with pytest.raises(JournalError, match="no header"):
        read_journal(path)
    with pytest.raises(JournalError, match="cannot read"):
        read_journal(tmp_path / "missing.msgpack")


def test_an_existing_journal_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "rows.msgpack"
    path.write_bytes(b"")
    with pytest.raises(FileExistsError):
        JournalWriter(path, {}, flush_interval_s=0.1)
