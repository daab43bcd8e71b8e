"""Row selection and frame matching: pure logic, times passed in, no threads, no I/O.

Rows are taken at the dataset fps on control ticks chosen by their times: slot ``k`` is
due at ``t_start + k / fps`` and the first tick at or after it takes the row. A tick that
comes after several slots takes only the newest of them; the skipped slots are counted as
gaps (never filled with copies). Each row then gets, per camera, the frame whose capture
time is nearest to the row's state time, never an older frame than the previous row's.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import numpy as np

from robots.base import Frame
from teleop.recorder.model import TickSample

NO_COMMAND_NS = -1
"""``t_command_ns`` of rows taken before any command was received."""


@dataclasses.dataclass(frozen=True)
class Slot:
    """The row slot a tick takes.

    Attributes:
        index: Slot number from 0; ``t_start + index / fps`` is its due time.
        skipped: Slots before this one that no tick took (gaps).
        late: The tick came more than half a row period after the slot's due time.
    """

    index: int
    skipped: int
    late: bool


class RowClock:
    """Decides which control ticks become rows.

    Args:
        t_start_ns: Due time of slot 0 in [ns].
        fps: Rows per second.
    """

    def __init__(self, t_start_ns: int, fps: int) -> None:
        self._t_start_ns = t_start_ns
        self._fps = fps
        self._next = 0

    def due_ns(self, index: int) -> int:
        """Due time in [ns] of slot ``index``."""
        return self._t_start_ns + index * 1_000_000_000 // self._fps

    def take(self, t_ns: int) -> Slot | None:
        """The slot the tick at ``t_ns`` takes, or None if no slot is due yet."""
        if t_ns < self.due_ns(self._next):
            return None
        slot = (t_ns - self._t_start_ns) * self._fps // 1_000_000_000
        skipped = slot - self._next
        self._next = slot + 1
        late = 2 * (t_ns - self.due_ns(slot)) * self._fps > 1_000_000_000
        return Slot(index=slot, skipped=skipped, late=late)


@dataclasses.dataclass(frozen=True)
class FrameChoice:
    """The frame chosen for a row.

    Attributes:
        frame: The frame (its ``t_ns`` is the real capture time).
        repeat: It is the same frame as the previous row's.
        dropped: Frames captured since the previous row's frame that no row used.
    """

    frame: Frame
    repeat: bool
    dropped: int


class FrameMatcher:
    """One camera's recent frames, and the nearest-capture-time choice for each row.

    Args:
        history: How many recent frames to keep for matching.
    """

    def __init__(self, history: int = 64) -> None:
        self._frames: deque[Frame] = deque(maxlen=history)
        self._last: Frame | None = None

    @property
    def has_frames(self) -> bool:
        """Whether any frame was ever offered."""
        return bool(self._frames) or self._last is not None

    def offer(self, frame: Frame | None) -> bool:
        """Add the camera's newest frame if it is new; returns whether it was."""
        if frame is None:
            return False
        if self._frames and (
            frame.seq == self._frames[-1].seq or frame.t_ns <= self._frames[-1].t_ns
        ):
            return False
        self._frames.append(frame)
        return True

    def choose(self, t_ref_ns: int, now_ns: int, wait_ns: int) -> FrameChoice | None:
        """The frame for a row whose state was captured at ``t_ref_ns``; see :meth:`accept`.

        Decided once a frame captured at or after ``t_ref_ns`` is known (later frames can
        only be farther), or once ``wait_ns`` has passed since ``t_ref_ns``: then the
        newest earlier frame is taken (the previous row's frame again if nothing newer
        came: a repeat). Never a frame older than the previous row's.

        Returns:
            The choice, or None while undecided (or while the camera has sent nothing).
        """
        floor = self._last.seq if self._last is not None else None
        before: Frame | None = self._last
        after: Frame | None = None
        for frame in self._frames:
            if floor is not None and frame.seq < floor:
                continue
            if frame.t_ns >= t_ref_ns:
                after = frame
                break
            before = frame
        if after is not None:
            use_after = before is None or after.t_ns - t_ref_ns < t_ref_ns - before.t_ns
            chosen = after if use_after else before
        elif now_ns - t_ref_ns >= wait_ns and before is not None:
            chosen = before
        else:
            return None
        assert chosen is not None
        last = self._last
        if last is None:
            return FrameChoice(chosen, repeat=False, dropped=0)
        return FrameChoice(
            chosen, repeat=chosen.seq == last.seq, dropped=max(0, chosen.seq - last.seq - 1)
        )

    def accept(self, choice: FrameChoice) -> None:
        """Make ``choice`` the previous row's frame (once every camera has decided)."""
        self._last = choice.frame


@dataclasses.dataclass(frozen=True)
class Row:
    """One dataset row before its bookkeeping columns (index, timestamp...) are added.

    Attributes:
        t_state_ns: Capture time of the state in [ns].
        t_command_ns: Receive time of the command in force in [ns]; -1 for none.
        q: Joint positions [rad], gripper opening last.
        dq: Joint velocities [rad/s].
        tau: Joint efforts [N·m], gripper grasp effort last [N].
        ee_force: Contact force on the gripper in [N], base frame (3,).
        grasp_force: Squeezing force of the gripper in [N].
        action: Target actually sent.
        requested: Target the operator asked for.
        clamped: The safety filter changed or held the request on this row's tick.
        frame_t_ns: Per camera (recorder order), capture time of the row's frame in [ns].
        frame_repeat: Per camera, the row reuses the previous row's frame.
    """

    t_state_ns: int
    t_command_ns: int
    q: np.ndarray
    dq: np.ndarray
    tau: np.ndarray
    ee_force: np.ndarray
    grasp_force: float
    action: np.ndarray
    requested: np.ndarray
    clamped: bool
    frame_t_ns: tuple[int, ...] = ()
    frame_repeat: tuple[bool, ...] = ()

    @classmethod
    def from_tick(cls, sample: TickSample) -> Row:
        """A row from a tick, before its frames are matched."""
        st = sample.state
        return cls(
            t_state_ns=int(st.t_ns),
            t_command_ns=NO_COMMAND_NS if sample.t_command_ns is None else int(sample.t_command_ns),
            q=np.asarray(st.q, dtype=np.float64),
            dq=np.asarray(st.dq, dtype=np.float64),
            tau=np.asarray(st.tau, dtype=np.float64),
            ee_force=np.asarray(st.ee_force, dtype=np.float64),
            grasp_force=float(st.grasp_force),
            action=np.asarray(sample.action, dtype=np.float64),
            requested=np.asarray(sample.requested, dtype=np.float64),
            clamped=bool(sample.clamped),
        )

    def with_frames(self, choices: list[FrameChoice]) -> Row:
        """This row with its matched frames, one per camera in recorder order."""
        return dataclasses.replace(
            self,
            frame_t_ns=tuple(int(c.frame.t_ns) for c in choices),
            frame_repeat=tuple(c.repeat for c in choices),
        )

    def to_record(self) -> list[Any]:
        """A compact, msgpack-friendly list (the journal's row record)."""
        return [
            self.t_state_ns, self.t_command_ns, self.q.tolist(), self.dq.tolist(),
            self.tau.tolist(), self.ee_force.tolist(), self.grasp_force,
            self.action.tolist(), self.requested.tolist(), self.clamped,
            list(self.frame_t_ns), list(self.frame_repeat),
        ]  # fmt: skip

    @classmethod
    def from_record(cls, rec: list[Any]) -> Row:
        """The inverse of :meth:`to_record`."""
        (t_state, t_cmd, q, dq, tau, ee, grasp, action, requested, clamped, ft, fr) = rec
        arr = np.asarray
        return cls(
            int(t_state), int(t_cmd), arr(q, float), arr(dq, float), arr(tau, float),
            arr(ee, float), float(grasp), arr(action, float), arr(requested, float),
            bool(clamped), tuple(int(t) for t in ft), tuple(bool(r) for r in fr),
        )  # fmt: skip
