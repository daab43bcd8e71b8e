"""The leader client's loop: read the leader arm, compare or follow, stream ``joints``.

One asyncio loop does everything, ``rate_hz`` times a second (100 by default):

1. one sync read of the leader's positions (about 1 ms at 1 Mbaud), in the loop's own
   thread: a hop to a worker thread costs more than the read on a loaded machine;
2. the leader's calibration maps them to a follower target (:mod:`.mapping`);
3. the :class:`Engager` compares with the follower's ``state.q``, eases in, or follows;
   only its targets are ever sent (:mod:`.engage`);
4. with force feedback, the follower's grasp force sets the push on the leader's
   gripper (:mod:`.feedback`);
5. the status shows the phase, the follower's loads and its grasp force.

The engager goes back to comparing whenever the chain breaks: a leader bus fault (no
reply, corrupt reply, port gone; nothing is sent, the server's watchdog holds the
follower, and the port is reopened every ``reopen_s``; a failing read blocks the loop
for at most the bus's bounded retries, ~0.2 s), an e-stop, a gap between
commands as long as the server's watchdog (or a watchdog hold it reports), a command
the server refused, or a lost connection. A lost connection is retried with exponential
backoff (:mod:`teleop.clients.link`, shared with the gamepad client); each connection
gets a new client and a new engager, so nothing from before the drop is ever sent. A
refused token, or a follower whose joints the leader's calibration does not name, ends
:meth:`LeaderApp.run`: retrying cannot fix those.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from robots.base import FloatArray, RobotConfigError, RobotError
from robots.serial.calibration import IntArray
from teleop.client import ClientError, TeleopClient
from teleop.clients.leader.arm import LeaderArm
from teleop.clients.leader.config import LeaderConfig
from teleop.clients.leader.engage import Decision, Engager, Phase
from teleop.clients.leader.feedback import OFF, GripperFeedback, GripperPush
from teleop.clients.leader.mapping import LeaderMapping
from teleop.clients.leader.priority import time_critical
from teleop.clients.leader.session import Session
from teleop.clients.leader.status import Status
from teleop.clients.link import Link, LinkedApp, make_client
from teleop.tickstats import TickStats

log = logging.getLogger(__name__)

StatusCallback = Callable[[Status], None]
SendCallback = Callable[[FloatArray, Phase], None]
"""Called with each target sent and the phase it was sent in."""
TickCallback = Callable[[int, int, int], None]
"""Called after each tick with its deadline, start and end, in [ns] (monotonic)."""
ClientFactory = Callable[[LeaderConfig], TeleopClient]


class LeaderApp(LinkedApp[LeaderConfig, Status]):
    """Mirrors one leader arm onto one teleop server's follower until cancelled.

    Args:
        config: Settings.
        arm: The leader arm (made from ``config`` if None); :meth:`run` opens and closes it.
        on_status: Called with the newest :class:`Status`, ``status_hz`` times a second
            and at once when the phase or the link changes.
        on_send: Called with every target sent (tests and benchmarks record them).
        on_tick: Called after every tick with its timing.
        client_factory: Makes a client per connection.
    """

    def __init__(
        self,
        config: LeaderConfig,
        arm: LeaderArm | None = None,
        *,
        on_status: StatusCallback | None = None,
        on_send: SendCallback | None = None,
        on_tick: TickCallback | None = None,
        client_factory: ClientFactory = make_client,
    ) -> None:
        super().__init__(config, Status(), on_status, client_factory)
        grip = config.feedback
        self.arm = arm or LeaderArm(
            config.serial_port,
            config.calibration,
            baudrate=config.baudrate,
            goal_speed_tps=grip.goal_speed_tps if grip else None,
        )
        self.stats = TickStats(round(config.period_s * 1e9))
        self.leader_fault: str | None = None
        """The leader bus's fault, or None while it reads cleanly."""
        self._feedback = GripperFeedback(grip, config.calibration.joints[-1]) if grip else None
        self._push = OFF
        self._on_send, self._on_tick = on_send, on_tick
        self._next_reopen_s = -math.inf

    async def run(self) -> None:
        """Open the leader, then connect, drive, and reconnect whenever the link drops.

        Raises:
            ClientError: The server refused this client's token.
            LeaderConfigError: The follower's joints do not match the leader's calibration.
            RobotConfigError: The leader arm is not the calibrated arm.
        """
        with time_critical(self.config.realtime):
            try:
                self._open_leader()
                await self._reconnect_forever()
            finally:
                self.arm.close()

    async def reset_estop(self) -> None:
        """Release the station's e-stop (this client holds the lease); the leader then
        compares with the follower again before it sends anything.

        Raises:
            ClientError: Not connected, or the server refused.
        """
        client = self.client
        if client is None or client.closed_reason is not None:
            raise ClientError("not_connected", "not connected to the server")
        await client.reset_estop()

    # -- connections ---------------------------------------------------------------------

    async def _session(self) -> None:
        """Connect, take the lease and drive; returns only by raising."""
        client = self._new_client()
        try:
            welcome = await client.connect()
            robot = welcome.robot
            mapping = LeaderMapping.build(
                self.config.calibration, robot.joint_names, robot.lower, robot.upper
            )
            await client.request_lease()
            self._got_lease(client)
            engager = Engager(
                mapping.joint_names,
                mapping.per_joint(self.config.max_mismatch_rad),
                mapping.per_joint(self.config.ease_step_rad),
            )
            await self._drive(Session(client, mapping, engager))
        finally:
            self._apply_push(OFF)
            await client.close()

    async def _offline(self, reason: str, wait_s: float) -> None:
        """Wait ``wait_s`` [s] before reconnecting, keeping the status current."""
        self._note = reason
        loop = asyncio.get_running_loop()
        end = loop.time() + wait_s
        while (left := end - loop.time()) > 0.0:
            status = Status(
                Link.RETRYING, leader_fault=self.leader_fault, retry_in_s=left, note=self._note
            )
            self._publisher.publish(status, loop.time())
            await asyncio.sleep(min(left, 1.0 / self.config.status_hz))

    # -- the loop ------------------------------------------------------------------------

    async def _drive(self, s: Session) -> None:
        loop = asyncio.get_running_loop()
        period_s = self.config.period_s
        deadline = loop.time()
        while True:
            start = loop.time()
            await self._tick(s, start)
            end = loop.time()
            self.stats.record(_ns(deadline), _ns(start), _ns(end))
            if self._on_tick is not None:
                self._on_tick(_ns(deadline), _ns(start), _ns(end))
            deadline += period_s
            if deadline < end - period_s:  # fell behind: count the lost ticks, go on from now
                missed = int((end - deadline) / period_s)
                self.stats.missed(missed)
                deadline += missed * period_s
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def _tick(self, s: Session, now_s: float) -> None:
        s.check()
        ticks = self._read_leader(now_s)
        stopped, errors = s.server_stopped(now_s, self.config.quiet_s)
        for error in errors:
            self._note = f"server: {error.code}: {error.message}"
            log.warning("server error %s: %s", error.code, error.message)
        if stopped or ticks is None:
            s.engager.disengage()
        before = s.decision.phase
        if ticks is None:
            s.decision = Decision(Phase.WAITING)
        else:
            s.decision = s.engager.step(s.mapping.to_follower(ticks), s.follower_q())
            await self._send(s, now_s)
        self._feedback_step(s, ticks)
        changed = s.decision.phase is not before
        if changed:
            _log_phase(s.decision)
        if changed or self._publisher.due(now_s):
            self._publisher.publish(self._connected_status(s), now_s, force=True)

    async def _send(self, s: Session, now_s: float) -> None:
        target = s.decision.target
        if target is None:
            return
        await s.client.send_joints(target.tolist())
        s.last_send_s, s.sent = now_s, s.sent + 1
        if self._on_send is not None:
            self._on_send(target, s.decision.phase)

    # -- the leader's bus ----------------------------------------------------------------

    def _open_leader(self) -> None:
        """First open: a wrong arm or calibration is fatal, a missing port is a fault."""
        try:
            self.arm.open()
        except RobotConfigError:
            raise
        except RobotError as exc:
            self._fault(exc)

    def _read_leader(self, now_s: float) -> IntArray | None:
        """The leader's ticks, or None while its bus is faulty (reopening it when due)."""
        if not self.arm.is_open:
            if now_s < self._next_reopen_s:
                return None
            self._next_reopen_s = now_s + self.config.reopen_s
            try:
                self.arm.open()
            except RobotError as exc:
                self._fault(exc)
                return None
        try:
            ticks = self.arm.read()
        except RobotError as exc:
            self._fault(exc)
            return None
        if self.leader_fault is not None:
            log.info("leader bus recovered (was: %s)", self.leader_fault)
            self.leader_fault = None
        return ticks

    def _feedback_step(self, s: Session, ticks: IntArray | None) -> None:
        if self._feedback is None:
            return
        state = s.client.state
        if ticks is None or state is None or not s.engager.engaged:
            self._feedback.reset()
            self._apply_push(OFF)
            return
        self._apply_push(self._feedback.step(int(ticks[-1]), state.grasp_force))

    def _apply_push(self, push: GripperPush) -> None:
        if self._feedback is None or not self.arm.is_open:
            return
        try:
            self.arm.push(push)
        except RobotError as exc:
            self._fault(exc)
            return
        self._push = push

    def _fault(self, exc: RobotError) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if message != self.leader_fault:
            log.error(
                "leader bus fault, not sending (the server's watchdog holds the follower): %s",
                message,
            )
        self.leader_fault = message
        self._push = OFF

    # -- status --------------------------------------------------------------------------

    def _connected_status(self, s: Session) -> Status:
        state = s.client.state
        mismatch = s.decision.mismatch
        return Status(
            Link.CONNECTED,
            phase=s.decision.phase,
            mismatch=mismatch.describe() if mismatch else "",
            leader_fault=self.leader_fault,
            lease=s.client.has_lease,
            estop=s.estop_latched,
            load_nm=tuple(state.tau[:-1]) if state else (),
            grasp_n=state.grasp_force if state else 0.0,
            push_pct=self._push.limit / 10.0 if self._feedback else None,
            rate_hz=self.stats.snapshot().rate_hz,
            sent=s.sent,
            note=self._note,
        )


def _log_phase(decision: Decision) -> None:
    if decision.phase is Phase.MISMATCH and decision.mismatch is not None:
        log.warning("not engaged: %s", decision.mismatch.describe())
    else:
        log.info("leader %s", decision.phase.value)


def _ns(t_s: float) -> int:
    return round(t_s * 1e9)
