"""The control loop applies a new command at once, never waits on the robot for it, and
never calls the robot from two threads at the same time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from timing import MS

from robots.base import RobotState
from robots.fake import FakeRobot
from teleop.control import ControlConfig, ControlLoop
from teleop.safety import ReceivedJoints

SLOW_RATE_HZ = 2.0  # a 500 ms period: "at once" cannot be mistaken for "at the next tick"


class SlowReadRobot(FakeRobot):
    """A fake arm whose ``read()`` takes ``read_s`` (a slow serial bus), and which fails
    the test if two threads ever call it at once."""

    def __init__(self, read_s: float) -> None:
        super().__init__(cameras=())
        self.read_s = read_s
        self.reading = threading.Event()
        self._inside = threading.Lock()
        self.overlaps = 0

    def _enter(self) -> None:
        if not self._inside.acquire(blocking=False):
            self.overlaps += 1
            self._inside.acquire()

    def _read(self) -> RobotState:
        self._enter()
        try:
            self.reading.set()
            time.sleep(self.read_s)
            return super()._read()
        finally:
            self.reading.clear()
            self._inside.release()

    def _send(self, q: np.ndarray) -> None:
        self._enter()
        try:
            super()._send(q)
        finally:
            self._inside.release()


@pytest.fixture
def slow_robot() -> Iterator[SlowReadRobot]:
    with SlowReadRobot(read_s=0.2) as robot:
        yield robot


def _command(q_from: np.ndarray, seq: int, delta: float) -> ReceivedJoints:
    """``q_from`` with the first joint moved by ``delta``, stamped as received now."""
    q = q_from.copy()
    q[0] += delta
    return ReceivedJoints(seq=seq, received_ns=time.monotonic_ns(), q=q.tolist(), deadman=True)


def _sent_since(robot: FakeRobot, t_ns: int) -> list[int]:
    return [t for t, _ in robot.sent if t >= t_ns]


def test_a_command_between_ticks_reaches_the_robot_at_once() -> None:
    with FakeRobot(cameras=()) as robot, ControlLoop(robot, ControlConfig(SLOW_RATE_HZ)) as loop:
        time.sleep(0.3)  # between ticks
        command = _command(robot.read().q, 1, 0.01)
        loop.submit(1, command)
        sent = _sent_since(robot, command.received_ns)
        assert sent, "the command waited for the next tick"
        assert sent[0] - command.received_ns < 50_000_000
        assert loop.latency_ns[-1] < 50_000_000


def test_submit_during_a_slow_read_returns_at_once_and_the_command_follows_the_read(
    slow_robot: SlowReadRobot,
) -> None:
    q0 = slow_robot.read().q
    with ControlLoop(slow_robot, ControlConfig(SLOW_RATE_HZ)) as loop:
        assert slow_robot.reading.wait(2.0), "no tick read the robot"
        command = _command(q0, 7, 0.01)
        t0 = time.monotonic()
        loop.submit(1, command)
        assert time.monotonic() - t0 < 0.05, "submit waited for the robot's read"
        deadline = time.monotonic() + 1000 * MS
        while not _sent_since(slow_robot, command.received_ns) and time.monotonic() < deadline:
            time.sleep(0.005)
        sent = _sent_since(slow_robot, command.received_ns)
        assert sent, "the command submitted during a tick was lost"
        # Sent when the read ended (<= 0.2 s), not at the next tick (0.5 s later).
        assert sent[0] - command.received_ns < 350_000_000
        assert loop.snapshot is not None


def test_the_robot_is_never_called_from_two_threads_at_once() -> None:
    with SlowReadRobot(read_s=0.002) as robot, ControlLoop(robot, ControlConfig(200.0)) as loop:
        q0 = robot.read().q
        end = time.monotonic() + 1.0
        seq = 0
        while time.monotonic() < end:
            seq += 1
            loop.submit(1, _command(q0, seq, 0.05 * np.sin(seq / 20)))
            time.sleep(0.001)
        assert robot.overlaps == 0
        assert loop.snapshot is not None and loop.snapshot.seq is not None
        assert loop.snapshot.seq > seq - 50  # it kept up with the stream


def test_nothing_is_applied_once_the_loop_thread_has_stopped() -> None:
    with FakeRobot(cameras=()) as robot:
        loop = ControlLoop(robot, ControlConfig(SLOW_RATE_HZ))
        loop.start()
        loop.stop()
        command = _command(robot.read().q, 1, 0.01)
        loop.submit(1, command)
        assert _sent_since(robot, command.received_ns) == []
