"""``TeleopServer``: moves messages between websockets, the session and the loop.

Three kinds of work share one asyncio thread here, and none of it ever blocks the
control loop, which has its own thread:

- each connection's reader hands frames to the ``ServerSession`` and carries out its
  outcome; a new command goes to ``ControlLoop.submit``, which applies it right here
  when no tick is running (see ``teleop.control``);
- broadcasters put the newest state (``state_rate_hz``) and camera frames
  (``frame_rate_hz``, JPEG-encoded in a worker thread) into every client's outbox;
- each client's ``Outbox`` task sends at that client's own pace.

The control loop reports back (an applied command, a refused one) through
``call_soon_threadsafe``, which never waits.

Process-wide settings (the garbage collector, the interpreter's switch interval, token
redaction in the websockets logs) are not this class's business: ``teleop serve`` makes
them (``teleop.cli.serve.serving_process``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

import websockets
from websockets.asyncio.server import Server, ServerConnection

from robots.base import Robot, RobotError
from teleop.control import ControlConfig, ControlLoop
from teleop.errors import ErrorCode, ProtocolError, TeleopError
from teleop.protocol import (
    MAX_MESSAGE_BYTES,
    Command,
    JointsCommand,
    Message,
    RecordingInfo,
    RecordStatus,
    RobotInfo,
)
from teleop.quality.activity import ActivityMeter
from teleop.safety import ReceivedJoints, ReceivedVelocity, Rejection, RejectReason
from teleop.server.http import Gate, GateConfig
from teleop.server.outbox import Outbox
from teleop.server.streams import Audience, FrameStreamer, StateStreamer, encoder
from teleop.session import RecordState, ServerSession, SessionConfig
from teleop.session import effects as fx

if TYPE_CHECKING:
    from teleop.station.recording_link import RecordingLink

log = logging.getLogger(__name__)

_REJECT_CODES = {
    RejectReason.NONFINITE: ErrorCode.NOT_FINITE,
    RejectReason.SHAPE: ErrorCode.BAD_SHAPE,
    RejectReason.JUMP: ErrorCode.UNSAFE_COMMAND,
}


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """How ``teleop serve`` runs.

    Attributes:
        host: Address to listen on.
        port: TCP port; 0 picks a free one.
        control: The control loop's rate and safety limits.
        gate: Tokens and allowed Origins.
        state_rate_hz: ``state`` messages per second to each client.
        frame_rate_hz: Camera frames per second per camera to each client.
        jpeg_quality: JPEG quality of streamed frames, 1 to 100.
        stall_timeout_s: A client that reads nothing for this long [s] is dropped.
        ping_interval_s: Websocket keepalive ping period [s]; a peer silent for this
            plus ``ping_timeout_s`` is declared dead and loses the lease.
        ping_timeout_s: How long a ping may go unanswered [s].
    """

    host: str = "127.0.0.1"
    port: int = 8765
    control: ControlConfig = dataclasses.field(default_factory=ControlConfig)
    gate: GateConfig = dataclasses.field(default_factory=GateConfig)
    state_rate_hz: float = 30.0
    frame_rate_hz: float = 15.0
    jpeg_quality: int = 80
    stall_timeout_s: float = 10.0
    ping_interval_s: float = 2.0
    ping_timeout_s: float = 3.0


class TeleopServer:
    """The websocket server for one robot. Use ``async with``; the robot must be connected.

    Args:
        robot: A connected robot; the server drives it and never disconnects it.
        config: Server settings.
        recording: Where ``record`` effects go, or None to refuse recording.
    """

    def __init__(
        self, robot: Robot, config: ServerConfig, recording: RecordingLink | None = None
    ) -> None:
        self.robot = robot
        self.config = config
        self.recording = recording
        self.session = ServerSession(
            SessionConfig(RobotInfo.from_spec(robot.spec), config.control.rate_hz)
        )
        self.gate = Gate(config.gate)
        self.loop = ControlLoop(
            robot,
            config.control,
            on_tick=recording.on_tick if recording else None,
            on_rejection=self._rejected_in_loop,
            on_applied=self._applied_in_loop,
        )
        self.outboxes: dict[int, Outbox] = {}
        self.activity: dict[int, ActivityMeter] = {}
        """Per client: time the arm moved while it held the lease (for the ledger)."""
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="teleop-io")
        self._ledger_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ledger")
        self._audience = Audience(self.outboxes, self.session.ready_clients)
        self._states = StateStreamer(
            self._audience,
            self.loop,
            config.state_rate_hz,
            recording=recording.info if recording else RecordingInfo,
            holder=lambda: self.session.holder,
            activity=self.activity,
        )
        self._frames = FrameStreamer(
            self._audience, robot, config.frame_rate_hz, config.jpeg_quality, self._pool
        )
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._aio: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with ``port=0``)."""
        assert self._server is not None, "start() the server first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._aio = asyncio.get_running_loop()
        self.loop.start()
        self._server = await websockets.serve(
            self._handle,
            self.config.host,
            self.config.port,
            process_request=self.gate.process_request,
            compression=None,  # JPEG and msgpack gain nothing; latency and CPU do
            max_size=MAX_MESSAGE_BYTES,
            open_timeout=5.0,
            ping_interval=self.config.ping_interval_s,
            ping_timeout=self.config.ping_timeout_s,
            close_timeout=2.0,
        )
        self._tasks = [
            asyncio.create_task(self._close_leftovers(), name="close-leftovers"),
            asyncio.create_task(self._states.run(), name="state-broadcast"),
            asyncio.create_task(self._frames.run(), name="frame-broadcast"),
            asyncio.create_task(self._poll(), name="session-poll"),
        ]
        log.info("listening on %s:%d", self.config.host, self.port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.loop.stop()
        aio = asyncio.get_running_loop()
        # The clients' sessions, accounted as their connections closed, go in first.
        await aio.run_in_executor(self._pool, self._ledger_pool.shutdown)
        if self.recording is not None:
            await aio.run_in_executor(self._pool, self.recording.close)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- connections ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        identity = self.gate.identity(ws)
        cid = self.session.connect(identity, time.monotonic_ns())
        outbox = Outbox(ws, self.config.stall_timeout_s)
        self.outboxes[cid] = outbox
        sender = asyncio.create_task(outbox.run(), name=f"outbox-{cid}")
        try:
            async for data in ws:
                outbox.binary = isinstance(data, bytes)
                now = time.monotonic_ns()
                await self._carry_out(self.session.receive(cid, data, now), now)
        except websockets.ConnectionClosed:
            pass
        finally:
            del self.outboxes[cid]
            sender.cancel()
            await self._carry_out(self.session.disconnect(cid, time.monotonic_ns()), 0)

    async def _poll(self) -> None:
        """Twice a second: hello timeouts, a failed recorder, a robot to reconnect."""
        while True:
            await asyncio.sleep(0.5)
            try:
                await self._carry_out(self.session.poll(time.monotonic_ns()), 0)
                await self._check_recorder()
                await self._reconnect_robot()
            except Exception:  # one bad round must not stop the next ones
                log.exception("housekeeping failed; trying again in 0.5 s")

    def send(self, cid: int | None, message: Message) -> None:
        """Queue a reply for one client (nothing happens if it has gone)."""
        outbox = self.outboxes.get(cid) if cid is not None else None
        if outbox is not None:
            outbox.reply(encoder(message))

    def broadcast(self, message: Message, *, exclude: int | None = None) -> None:
        """Queue a message for every client that said ``hello`` but ``exclude``."""
        self._audience.reply(encoder(message), exclude=exclude)

    async def _carry_out(self, outcome: fx.Outcome, now_ns: int) -> None:
        for message in outcome.replies:
            self.send(outcome.client_id, message)
        for message in outcome.broadcast:
            self.broadcast(message, exclude=outcome.client_id)
        for effect in outcome.effects:
            await self._effect(effect)

    async def _effect(self, effect: fx.Effect) -> None:
        match effect:
            case fx.ApplyCommand(client_id, command, received_ns):
                self._states.note_command(command)
                self.loop.submit(client_id, _received(command, received_ns))
            case fx.LeaseChanged(holder):
                self.loop.clear_mailbox()
                if holder is not None:
                    self._lease_taken(holder)
            case fx.TriggerEstop(_, reason):
                log.warning("e-stop triggered: %s", reason)
                self.loop.trigger_estop()
            case fx.ResetEstop():
                log.info("e-stop reset by client %d", effect.client_id)
                self.loop.reset_estop()
            case fx.Disconnect(client_id, code, reason):
                if (outbox := self.outboxes.get(client_id)) is not None:
                    await outbox.ws.close(code, reason)
            case fx.StartRecording() | fx.StopRecording() | fx.DiscardRecording():
                await self._record(effect)
            case fx.ClientLeft(info):
                self._client_left(info)

    def _lease_taken(self, client_id: int) -> None:
        """Open the new holder's ledger session, so that its episodes can name it."""
        if self.recording is not None:
            info = self.session.info(client_id, time.monotonic_ns())
            self._account(self.recording.open_session, client_id, info.principal, info.name)

    def _client_left(self, info: fx.ClientInfo) -> None:
        """Account a leaving client's lease-held and active time in the ledger."""
        meter = self.activity.pop(info.client_id, None)
        active_s = meter.active_s if meter is not None else 0.0
        log.info("client %d (%s) left after %.1f s of lease, %.1f s active", info.client_id,
                 info.name or info.principal, info.lease_held_s, active_s)  # fmt: skip
        if self.recording is not None:
            self._account(self.recording.close_session, info.client_id, info.principal,
                          info.name, info.lease_held_s, active_s)  # fmt: skip

    def _account(self, fn: Callable[..., object], *args: object) -> None:
        """Write to the ledger in its own thread, in order, without waiting for it.

        One thread keeps a session's open before its close; nobody waits, so a slow
        or unreachable ledger never holds up a client's messages.
        """

        def report(future: concurrent.futures.Future[object]) -> None:
            if (exc := future.exception()) is not None:
                log.error("could not record the session in the ledger: %s", exc)

        self._ledger_pool.submit(fn, *args).add_done_callback(report)

    async def _close_leftovers(self) -> None:
        if self.recording is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._pool, self.recording.close_leftovers
            )
        except (TeleopError, OSError) as exc:
            log.error("could not check episodes left unsigned: %s", exc)

    async def _check_saved(self) -> None:
        """Checks, signature and ledger for a saved episode, then tell every client."""
        assert self.recording is not None
        try:
            lines = await asyncio.get_running_loop().run_in_executor(
                self._pool, self.recording.check_saved
            )
        except (TeleopError, OSError) as exc:
            log.error("could not check the saved episode: %s", exc)
            lines = [f"not checked: {exc}"]
        for line in lines:
            self.broadcast(RecordStatus(False, reason=f"checked: {line}"))

    async def _record(self, effect: fx.Effect) -> None:
        """Run a recorder action in a worker thread; report a failure to the operator."""
        aio = asyncio.get_running_loop()
        try:
            if self.recording is None:
                raise ProtocolError(
                    ErrorCode.RECORD_FAILED, "this server was started without a recorder"
                )
            reply = await aio.run_in_executor(self._pool, self.recording.apply, effect)
        except Exception as exc:  # the recorder's own errors and a full disk alike
            log.error("recording failed: %s", exc)
            await self._carry_out(self.session.recording_failed(str(exc), time.monotonic_ns()), 0)
            return
        if reply is not None:
            self.broadcast(reply)
        if isinstance(effect, fx.StopRecording):
            await self._check_saved()

    async def _check_recorder(self) -> None:
        failure = self.recording.failed() if self.recording is not None else None
        if failure is not None and self.session.record_state is not RecordState.IDLE:
            await self._carry_out(self.session.recording_failed(failure, time.monotonic_ns()), 0)

    async def _reconnect_robot(self) -> None:
        """A robot whose link dropped (a pulled cable) is reconnected when it comes back.

        Meanwhile the loop holds; once the robot answers it holds where the arm is,
        until the operator's next command.
        """
        if self.robot.is_connected:
            return
        aio = asyncio.get_running_loop()
        try:
            await aio.run_in_executor(self._pool, self.robot.connect)
        except RobotError as exc:
            log.debug("robot still unreachable: %s", exc)
            return
        log.warning("robot '%s' reconnected", self.robot.spec.name)

    # -- called from the control-loop thread ----------------------------------------------

    def _rejected_in_loop(self, cid: int, seq: int, rejection: Rejection) -> None:
        code = _REJECT_CODES.get(rejection.reason, ErrorCode.UNSAFE_COMMAND)
        exc = ProtocolError(code, rejection.message, ref_type="command", seq=seq)
        if self._aio is not None:
            self._aio.call_soon_threadsafe(self._report_rejection, cid, exc)

    def _report_rejection(self, cid: int, exc: ProtocolError) -> None:
        outcome = self.session.command_refused(cid, exc, time.monotonic_ns())
        for message in outcome.replies:
            self.send(cid, message)

    def _applied_in_loop(self, cid: int) -> None:
        if self._aio is not None:
            self._aio.call_soon_threadsafe(self._states.push_to, cid)


def _received(command: Command, received_ns: int) -> ReceivedJoints | ReceivedVelocity:
    """The safety filter's view of a wire command, stamped with its receive time."""
    if isinstance(command, JointsCommand):
        return ReceivedJoints(command.seq, received_ns, command.q, command.deadman)
    return ReceivedVelocity(
        command.seq,
        received_ns,
        command.linear,
        command.angular,
        command.gripper,
        command.deadman,
    )
