"""The control loop: its own thread, a fixed rate on absolute deadlines.

Every tick takes the newest command from the mailbox (or none), runs the safety
filter, sends the safe target with ``robot.command`` and reads the robot. A command
that arrives between ticks is applied at once (filter and send, no read), so the server
adds far less than a period of latency; the fixed-rate ticks go on regardless, for the
watchdog, the state and the recording.

Applying at once happens in the thread that submits the command, while no tick runs:
handing the command to the loop thread instead costs a thread wake-up and a turn at the
GIL, which on a busy 2-core machine took longer than the filter itself (p99 ~1 ms). One
lock, the *turn*, makes the filter and the robot calls one thread's at a time. The
submitting thread only ever tries it: during a tick the command waits in the mailbox and
the loop thread applies it when the tick ends. So the network never waits on the robot,
and the loop waits at most for one filter-and-send, never on network I/O.

The loop never waits on the network or the disk: it hands each tick to ``on_tick``
(which must not block) and publishes a ``LoopSnapshot`` that other threads read.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import numpy as np

from robots.base import FloatArray, Robot, RobotError, RobotState
from robots.kinematics import Kinematics
from robots.realtime import raise_thread_priority
from teleop import safety
from teleop.defaults import MAX_RATE_HZ
from teleop.errors import ConfigError
from teleop.recorder import TickSample
from teleop.safety import (
    FilterState,
    ReceivedJoints,
    ReceivedVelocity,
    SafetyConfig,
    SafetyCounters,
    TickResult,
)
from teleop.tickstats import LoopStats, TickStats

log = logging.getLogger(__name__)

Received = ReceivedJoints | ReceivedVelocity


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """How the loop runs.

    Attributes:
        rate_hz: Tick rate in [Hz], 1 to 500.
        safety: The safety filter's limits.
        stats_log_interval_s: How often the tick statistics are logged, in [s].
    """

    rate_hz: float = 100.0
    safety: SafetyConfig = dataclasses.field(default_factory=SafetyConfig)
    stats_log_interval_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.rate_hz <= MAX_RATE_HZ:
            raise ConfigError(f"control rate {self.rate_hz} Hz outside [1, {MAX_RATE_HZ:.0f}]")

    @property
    def period_ns(self) -> int:
        return round(1e9 / self.rate_hz)


@dataclasses.dataclass(frozen=True)
class LoopSnapshot:
    """What the loop last did, for the state broadcast.

    Attributes:
        state: The newest robot reading.
        target: The joint target last sent.
        seq: ``seq`` of the last command applied, or None.
        estop: Whether the e-stop is latched.
        hold: Why the arm is not following the operator (``"none"`` when it is).
        safety: The safety counters (``as_dict()`` gives them by name).
        fault: The robot's last error, or None while healthy.
    """

    state: RobotState
    target: FloatArray
    seq: int | None
    estop: bool
    hold: str
    safety: SafetyCounters
    fault: str | None


@dataclasses.dataclass(frozen=True)
class _Incoming:
    client_id: int
    command: Received


RejectionHook = Callable[[int, int, safety.Rejection], None]
"""``(client_id, seq, rejection)``: called from the loop thread or from the thread that
submitted the command; must not block."""
AppliedHook = Callable[[int], None]
"""``(client_id)``: a command of this client was just sent; called like ``RejectionHook``;
must not block."""


class ControlLoop:
    """Drives one robot from the newest operator command, through the safety filter.

    Args:
        robot: A connected robot.
        config: Rate and safety limits.
        on_tick: Called on every fixed-rate tick with what happened; must not block.
        on_rejection: Called when the filter refuses a command; must not block.
        on_applied: Called when a new command has been sent to the robot; must not block.
    """

    def __init__(
        self,
        robot: Robot,
        config: ControlConfig,
        on_tick: Callable[[TickSample], None] | None = None,
        on_rejection: RejectionHook | None = None,
        on_applied: AppliedHook | None = None,
    ) -> None:
        self.robot = robot
        self.config = config
        self._on_tick = on_tick
        self._on_rejection = on_rejection
        self._on_applied = on_applied
        self._kinematics = Kinematics.from_spec(robot.spec) if robot.spec.urdf_path else None
        self._lock = threading.Lock()  # guards the mailbox
        self._turn = threading.Lock()  # held while the filter runs and the robot is called
        self._newest: _Incoming | None = None
        self._in_force_ns: int | None = None
        self._ops: collections.deque[Callable[[FilterState, int], FilterState]] = (
            collections.deque()
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._filter = FilterState()
        self._last_q: FloatArray = np.zeros(robot.spec.dof)
        self.stats = TickStats(config.period_ns)
        self.latency_ns: collections.deque[int] = collections.deque(maxlen=20000)
        """Receive-to-``robot.command`` delay of each newly applied command, in [ns]."""
        self.snapshot: LoopSnapshot | None = None
        self.fault: str | None = None

    # -- called from other threads ------------------------------------------------------

    def submit(self, client_id: int, command: Received) -> None:
        """Put a command in the mailbox (replacing any unread one) and apply it at once.

        The calling thread applies it itself when no tick is running; otherwise the loop
        thread does, as soon as its tick ends. Never waits on the robot. Nothing is
        applied while the loop thread is not running: its ticks run the watchdog.
        """
        with self._lock:
            self._newest = _Incoming(client_id, command)
        if self.thread_alive() and self._turn.acquire(blocking=False):
            try:
                self._filter_and_send(time.monotonic_ns())
            finally:
                self._turn.release()
        else:
            self._wake.set()

    def clear_mailbox(self) -> None:
        """Drop an unread command, e.g. when the lease changes hands."""
        with self._lock:
            self._newest = None

    def trigger_estop(self) -> None:
        """Latch the e-stop from the next tick on."""
        self._ops.append(lambda state, now: safety.trigger_estop(state))
        self._wake.set()

    def reset_estop(self) -> None:
        """Unlatch the e-stop; nothing moves until a command received after now."""
        self._ops.append(safety.reset_estop)
        self._wake.set()

    def thread_alive(self) -> bool:
        """Whether the loop thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def loop_stats(self) -> LoopStats:
        return self.stats.snapshot()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._last_q = self.robot.read().q
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._kinematics is not None:
            self._kinematics.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the loop thread -----------------------------------------------------------------

    def _run(self) -> None:
        raise_thread_priority("control loop")
        period = self.config.period_ns
        deadline = time.monotonic_ns() + period
        next_log = time.monotonic() + self.config.stats_log_interval_s
        while not self._stop.is_set():
            self._wake.wait(max(0.0, (deadline - time.monotonic_ns()) / 1e9))
            self._wake.clear()
            with self._turn:
                now = time.monotonic_ns()
                if now < deadline:
                    self._filter_and_send(now)  # a command arrived during a tick, or an op
                    continue
                self._tick(deadline, now)
            deadline += period
            behind = (time.monotonic_ns() - deadline) // period
            if behind > 0:  # skip ticks rather than run a burst of late ones
                self.stats.missed(int(behind))
                deadline += behind * period
            if time.monotonic() >= next_log:
                next_log += self.config.stats_log_interval_s
                log.info("control loop: %s", self.stats.snapshot())

    def _tick(self, deadline: int, now: int) -> None:
        result, sent = self._filter_and_send(now)
        state = self._read()
        end = time.monotonic_ns()
        late = self.stats.record(deadline, now, end)
        if state is None:
            if self.snapshot is not None:
                self.snapshot = dataclasses.replace(self.snapshot, fault=self.fault)
            return
        self._last_q = state.q
        self.snapshot = LoopSnapshot(
            state=state,
            target=sent,
            seq=result.state.applied_seq,
            estop=result.state.estop,
            hold=result.hold.value,
            safety=result.state.counters,
            fault=self.fault,
        )
        if self._on_tick is not None:
            self._on_tick(
                TickSample(
                    t_ns=now,
                    state=state,
                    action=sent,
                    requested=np.asarray(result.requested),
                    t_command_ns=self._in_force_ns,
                    clamped=bool(result.events) or result.hold is not safety.HoldReason.NONE,
                    late=late,
                )
            )

    def _filter_and_send(self, now: int) -> tuple[TickResult, FloatArray]:
        """Run the safety filter on the newest command (if any) and send the target."""
        while self._ops:
            self._filter = self._ops.popleft()(self._filter, now)
        with self._lock:
            incoming, self._newest = self._newest, None
        command = incoming.command if incoming is not None else None
        result = safety.step(
            self._filter,
            command,
            now,
            self._last_q,
            self.robot.spec,
            self.config.safety,
            self._to_joint_target,
        )
        self._filter = result.state
        if incoming is not None:
            self._note_command(incoming, result)
        sent = self._send(result.target)
        if incoming is not None and result.rejection is None:
            self.latency_ns.append(time.monotonic_ns() - incoming.command.received_ns)
            self._publish_applied(result, sent)
            if self._on_applied is not None:
                self._on_applied(incoming.client_id)
        return result, sent

    def _publish_applied(self, result: TickResult, sent: FloatArray) -> None:
        """Show a just-applied command's seq at once, with the newest reading."""
        if self.snapshot is not None:
            self.snapshot = dataclasses.replace(
                self.snapshot, target=sent, seq=result.state.applied_seq, estop=result.state.estop
            )

    def _note_command(self, incoming: _Incoming, result: TickResult) -> None:
        if result.rejection is not None:
            if self._on_rejection is not None:
                self._on_rejection(incoming.client_id, incoming.command.seq, result.rejection)
        else:
            self._in_force_ns = incoming.command.received_ns

    def _to_joint_target(
        self, q_arm: FloatArray, linear: FloatArray, angular: FloatArray, dt: float
    ) -> FloatArray:
        if self._kinematics is None:
            raise RobotError(f"'{self.robot.spec.name}' has no URDF: ee_velocity is unavailable")
        return self._kinematics.velocity_step(q_arm, linear, angular, dt)

    def _send(self, target: FloatArray) -> FloatArray:
        try:
            sent = self.robot.command(target)
        except RobotError as exc:
            self._robot_failed(exc)
            return np.asarray(target)
        return sent

    def _read(self) -> RobotState | None:
        try:
            state = self.robot.read()
        except RobotError as exc:
            self._robot_failed(exc)
            return None
        if self.fault is not None:
            self._recovered(state)
        return state

    def _robot_failed(self, exc: RobotError) -> None:
        """The robot did not answer: report it and hold; nothing is sent that it missed."""
        message = f"{type(exc).__name__}: {exc}"
        if message != self.fault:
            log.error("robot fault, holding: %s", message)
        self.fault = message

    def _recovered(self, state: RobotState) -> None:
        """The robot answers again: hold where it now is, until a fresh command.

        After a pulled cable the arm may not be where the last target was, so the hold
        re-anchors on the measured position; the operator's stream resumes it.
        """
        log.info("robot recovered from: %s", self.fault)
        self.fault = None
        self._last_q = state.q
        self._filter = dataclasses.replace(self._filter, target=None, active=None, jump_ref=None)
