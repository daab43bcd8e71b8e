"""Row selection and nearest-frame matching (pure logic, times given)."""

from __future__ import annotations

import numpy as np

from robots.base import Frame
from teleop.recorder.rows import FrameMatcher, RowClock

MS = 1_000_000


def frame(seq: int, t_ms: float) -> Frame:
    return Frame(image=np.zeros((2, 2, 3), np.uint8), t_ns=int(t_ms * MS), seq=seq)


def test_rows_come_from_the_first_tick_at_or_after_each_slot() -> None:
    clock = RowClock(t_start_ns=0, fps=30)  # slots every 33.3 ms
    taken = [(t, s) for t in range(0, 200, 10) if (s := clock.take(t * MS)) is not None]
    assert [t for t, _ in taken] == [0, 40, 70, 100, 140, 170]
    assert [s.index for _, s in taken] == [0, 1, 2, 3, 4, 5]
    assert not any(s.skipped or s.late for _, s in taken)


def test_a_stalled_loop_skips_slots_and_counts_them() -> None:
    clock = RowClock(t_start_ns=0, fps=30)
    assert clock.take(0) is not None
    slot = clock.take(145 * MS)  # slots 1..3 (33, 67, 100 ms) had no tick
    assert slot is not None and (slot.index, slot.skipped) == (4, 3)
    assert not slot.late  # 12 ms after slot 4's due time (133 ms): under half a period
    late = clock.take(190 * MS)  # slot 5 due at 166.7 ms: 23 ms late
    assert late is not None and late.late and late.skipped == 0
    assert clock.take(195 * MS) is None  # slot 6 is due at 200 ms


def test_the_nearest_frame_is_chosen_once_it_is_decidable() -> None:
    m = FrameMatcher()
    m.offer(frame(0, 0))
    m.offer(frame(1, 33))
    # A row at 30 ms: frame 1 (33 ms) is nearest, and known; decided at once.
    choice = m.choose(30 * MS, now_ns=31 * MS, wait_ns=200 * MS)
    assert choice is not None and choice.frame.seq == 1 and not choice.repeat
    m.accept(choice)
    # A row at 45 ms: only earlier frames are known, so it waits for a newer one...
    assert m.choose(45 * MS, now_ns=50 * MS, wait_ns=200 * MS) is None
    m.offer(frame(2, 66))
    # ... frame 2 (66 ms) is 21 ms away, frame 1 (33 ms) 12 ms: frame 1 again, a repeat.
    choice = m.choose(45 * MS, now_ns=67 * MS, wait_ns=200 * MS)
    assert choice is not None and choice.frame.seq == 1 and choice.repeat


def test_a_silent_camera_gives_the_previous_frame_after_the_wait() -> None:
    m = FrameMatcher()
    m.offer(frame(5, 0))
    first = m.choose(10 * MS, now_ns=10 * MS, wait_ns=100 * MS)
    assert first is None  # nothing at or after 10 ms yet
    first = m.choose(10 * MS, now_ns=110 * MS, wait_ns=100 * MS)
    assert first is not None and first.frame.seq == 5 and not first.repeat
    m.accept(first)
    again = m.choose(43 * MS, now_ns=143 * MS, wait_ns=100 * MS)
    assert again is not None and again.repeat and again.frame.t_ns == 0  # never invented


def test_skipped_frames_are_counted_and_time_never_goes_back() -> None:
    m = FrameMatcher()
    for seq, t in [(0, 0), (1, 33), (2, 66), (3, 100)]:
        m.offer(frame(seq, t))
    first = m.choose(99 * MS, now_ns=101 * MS, wait_ns=0)
    assert first is not None and first.frame.seq == 3
    m.accept(first)
    m.offer(frame(7, 233))  # frames 4..6 never reached the matcher
    choice = m.choose(230 * MS, now_ns=234 * MS, wait_ns=100 * MS)
    assert choice is not None and choice.dropped == 3
    m.accept(choice)
    # A row whose state time is earlier than the last frame still gets no older frame.
    back = m.choose(150 * MS, now_ns=300 * MS, wait_ns=100 * MS)
    assert back is not None and back.frame.seq == 7 and back.repeat


def test_the_same_frame_offered_twice_is_kept_once() -> None:
    m = FrameMatcher()
    assert m.offer(frame(0, 0)) and not m.offer(frame(0, 0)) and not m.offer(None)
    assert m.has_frames
