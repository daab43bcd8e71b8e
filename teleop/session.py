"""The session state machine: clients, roles, the operator lease, the e-stop latch.

:class:`Hub` holds everything the server decides about its clients, and does no I/O:
no sockets, no threads, no clock. Each method takes the time ``now_ns`` [ns, on
``time.monotonic_ns()``] and returns an :class:`Outcome`: messages for the client that
spoke, messages for every other client that said ``hello``, and effects for the server to
carry out (apply a command, start a recording, latch the e-stop, drop a connection). The
websocket server only moves messages::

    client_id = hub.connect(identity, now)       # after the handshake passed auth
    outcome = hub.receive(client_id, frame, now)  # every frame, raw or decoded
    outcome = hub.disconnect(client_id, now)      # always, in a finally
    outcome = hub.poll(now)                       # a few times a second: hello timeouts

Rules it enforces (``docs/protocol.md`` has the table):
    * ``hello`` comes first; before it only ``ping`` and ``estop trigger`` are accepted.
    * One operator holds the lease. Only the holder commands, records or resets the
      e-stop; anyone connected, observers included, may trigger it. A second request is
      refused with ``lease_held`` naming the holder; an admin may take over with
      ``force``. Losing the lease (release, disconnect, takeover) stops a recording.
    * A command whose ``seq`` does not increase is dropped (``stale_seq``); a new lease
      starts the count afresh.
    * The e-stop latch belongs to the station, not to a client: a reconnect never
      re-arms it.
    * More than ``max_rate_hz`` messages/s (after a burst allowance) are dropped with one
      ``rate_limited`` error; still flooding ``flood_grace_s`` later is a disconnect.
    * Errors about ``command`` messages, which stream at up to 500 Hz, are sent at most
      once per ``error_interval_s`` per code; the next one counts the ones held back.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

from teleop.auth import Identity
from teleop.effects import (
    ApplyCommand,
    ClientInfo,
    ClientLeft,
    ClientPhase,
    DiscardRecording,
    Disconnect,
    Effect,
    LeaseChanged,
    Outcome,
    ResetEstop,
    StartRecording,
    StopRecording,
    TriggerEstop,
)
from teleop.errors import ConfigError, ErrorCode, ProtocolError, UnknownClientError
from teleop.protocol import (
    PROTOCOL_VERSION,
    ClientMessage,
    Command,
    ErrorReply,
    Estop,
    EstopAction,
    EstopStatus,
    Hello,
    JointsCommand,
    Lease,
    LeaseAction,
    LeaseStatus,
    Ping,
    Pong,
    Record,
    RecordAction,
    RecordStatus,
    RobotInfo,
    Role,
    VelocityCommand,
    Welcome,
    check_command_shape,
    decode,
)
from teleop.ratelimit import FloodGuard, Verdict

logger = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008
"""Websocket close code for a client that broke the rules (flood, hello timeout)."""


class EstopState(Enum):
    ARMED = "armed"
    LATCHED = "latched"


class RecordState(Enum):
    IDLE = "idle"
    RECORDING = "recording"


@dataclasses.dataclass(frozen=True)
class HubConfig:
    """Session settings.

    Attributes:
        robot: The robot, as told to clients in ``welcome``; commands are checked
            against its joint count.
        rate_hz: Control loop rate in [Hz], told to clients in ``welcome``.
        max_rate_hz: Messages per second a client may send in the long run.
        burst: Messages a client may send at once above ``max_rate_hz``.
        flood_grace_s: A client still over the limit this long [s] after the
            ``rate_limited`` error is disconnected.
        hello_timeout_s: A client that has not said ``hello`` this long [s] after
            connecting is disconnected by ``poll``.
        error_interval_s: Least time [s] between two errors of one code about
            ``command`` messages to one client.
    """

    robot: RobotInfo
    rate_hz: float
    max_rate_hz: float = 1000.0
    burst: int = 200
    flood_grace_s: float = 1.0
    hello_timeout_s: float = 5.0
    error_interval_s: float = 0.5

    def __post_init__(self) -> None:
        positive = ("rate_hz", "max_rate_hz", "burst", "flood_grace_s", "hello_timeout_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"HubConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.error_interval_s < 0:
            raise ConfigError(
                f"HubConfig.error_interval_s must be >= 0, got {self.error_interval_s}"
            )


@dataclasses.dataclass(slots=True)
class _Client:
    client_id: int
    identity: Identity
    connected_ns: int
    flood: FloodGuard
    phase: ClientPhase = ClientPhase.AWAITING_HELLO
    role: Role | None = None
    name: str = ""
    last_seq: int | None = None
    lease_since_ns: int | None = None
    lease_held_ns: int = 0
    last_error_ns: dict[ErrorCode, int] = dataclasses.field(default_factory=dict)
    held_back: dict[ErrorCode, int] = dataclasses.field(default_factory=dict)

    def label(self) -> str:
        return f"client {self.client_id} ('{self.name}')"


class Hub:
    """Every connected client of one robot, and the station state they share.

    Args:
        config: Session settings.
    """

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self._clients: dict[int, _Client] = {}
        self._next_id = 1
        self._holder: int | None = None
        self._estop = EstopState.ARMED
        self._record = RecordState.IDLE
        self._record_by: int | None = None
        self._handlers: dict[type, Callable[[_Client, Any, int], Outcome]] = {
            Hello: self._on_hello,
            Lease: self._on_lease,
            JointsCommand: self._on_command,
            VelocityCommand: self._on_command,
            Record: self._on_record,
            Estop: self._on_estop,
            Ping: self._on_ping,
        }

    # --- what the server reads ------------------------------------------------------------

    @property
    def holder(self) -> int | None:
        """The client id that holds the operator lease, or None."""
        return self._holder

    @property
    def estop(self) -> EstopState:
        return self._estop

    @property
    def record_state(self) -> RecordState:
        return self._record

    def ready_clients(self) -> list[int]:
        """Clients that said ``hello``: the recipients of broadcasts, state and frames."""
        return [c.client_id for c in self._clients.values() if c.phase is ClientPhase.READY]

    def info(self, client_id: int, now_ns: int) -> ClientInfo:
        """A snapshot of one client, its lease time counted up to ``now_ns``."""
        c = self._get(client_id)
        held = c.lease_held_ns
        if c.lease_since_ns is not None:
            held += now_ns - c.lease_since_ns
        return ClientInfo(
            client_id=c.client_id,
            name=c.name,
            role=c.role,
            principal=c.identity.principal,
            is_admin=c.identity.is_admin,
            connected_ns=c.connected_ns,
            phase=c.phase,
            lease_held_s=held / 1e9,
        )

    # --- what the server calls ------------------------------------------------------------

    def connect(self, identity: Identity, now_ns: int) -> int:
        """Register a connection that passed the handshake; returns its new client id."""
        client_id = self._next_id
        self._next_id += 1
        flood = FloodGuard(self.config.max_rate_hz, self.config.burst, self.config.flood_grace_s)
        self._clients[client_id] = _Client(client_id, identity, now_ns, flood)
        logger.info("client %d connected as %s", client_id, identity.principal)
        return client_id

    def receive(self, client_id: int, data: bytes | str | ClientMessage, now_ns: int) -> Outcome:
        """Handle one frame (bytes or str, decoded here) or an already decoded message.

        Raises:
            UnknownClientError: ``client_id`` is not connected (a server bug).
        """
        c = self._get(client_id)
        if c.phase is ClientPhase.CLOSING:
            return Outcome(client_id)
        verdict = c.flood.admit(now_ns)
        if verdict is not Verdict.ACCEPT:
            return self._flooded(c, verdict)
        if isinstance(data, (bytes, str)):
            try:
                msg = decode(data)
            except ProtocolError as exc:
                return self._error(c, exc, now_ns)
        else:
            msg = data
        if c.phase is ClientPhase.AWAITING_HELLO and not _allowed_before_hello(msg):
            return self._refuse(c, ErrorCode.NOT_READY, "send 'hello' first", msg, now_ns)
        return self._handlers[type(msg)](c, msg, now_ns)

    def disconnect(self, client_id: int, now_ns: int) -> Outcome:
        """Forget a connection; releases its lease. Call it exactly once per connect."""
        c = self._get(client_id)
        out = Outcome(None)
        if self._holder == client_id:
            self._end_lease(out, now_ns, reason="lease holder disconnected")
            out.broadcast.append(LeaseStatus(None, False, None))
            out.effects.append(LeaseChanged(None, client_id))
        out.effects.append(ClientLeft(self.info(client_id, now_ns)))
        del self._clients[client_id]
        if self._record_by == client_id:
            self._record_by = None
        logger.info("%s disconnected", c.label())
        return out

    def poll(self, now_ns: int) -> Outcome:
        """Time-driven decisions: disconnect clients that never said ``hello``."""
        out = Outcome(None)
        limit_ns = int(self.config.hello_timeout_s * 1e9)
        for c in self._clients.values():
            if c.phase is ClientPhase.AWAITING_HELLO and now_ns - c.connected_ns > limit_ns:
                c.phase = ClientPhase.CLOSING
                reason = f"no hello within {self.config.hello_timeout_s:g} s"
                out.effects.append(Disconnect(c.client_id, CLOSE_POLICY_VIOLATION, reason))
        return out

    def trigger_estop(self, reason: str, now_ns: int) -> Outcome:
        """Latch the e-stop from the server side (a robot fault, a shutdown)."""
        self._estop = EstopState.LATCHED
        status = EstopStatus(True, None, reason)
        logger.warning("e-stop latched by the server: %s", reason)
        return Outcome(None, broadcast=[status], effects=[TriggerEstop(None, reason)])

    def recording_failed(self, message: str, now_ns: int) -> Outcome:
        """The recorder could not start or had to stop: say so, and go back to idle.

        Args:
            message: What went wrong and what to do, e.g. "disk full: ...".
        """
        self._record = RecordState.IDLE
        status = RecordStatus(False, reason=f"failed: {message}")
        starter = self._record_by if self._record_by in self._clients else None
        self._record_by = None
        out = Outcome(starter, broadcast=[status])
        if starter is not None:
            out.replies += [status, ErrorReply(ErrorCode.RECORD_FAILED, message, "record")]
        return out

    def command_refused(self, client_id: int, exc: ProtocolError, now_ns: int) -> Outcome:
        """Report a command that the control loop's safety filter refused.

        Goes through the same thinning as the hub's own command errors. A client that
        has left meanwhile is skipped.

        Args:
            exc: The refusal, e.g. ``ProtocolError(ErrorCode.UNSAFE_COMMAND, "...",
                ref_type="command", seq=cmd.seq)``.
        """
        c = self._clients.get(client_id)
        return Outcome(None) if c is None else self._error(c, exc, now_ns)

    # --- message handlers -----------------------------------------------------------------

    def _on_hello(self, c: _Client, msg: Hello, now_ns: int) -> Outcome:
        if c.phase is ClientPhase.READY:
            text = f"already said hello as {c.role}; reconnect to change role or name"
            return self._refuse(c, ErrorCode.BAD_STATE, text, msg, now_ns)
        if msg.protocol is not None and msg.protocol != PROTOCOL_VERSION:
            text = (
                f"protocol {msg.protocol} is not supported; this server speaks {PROTOCOL_VERSION}"
            )
            return self._refuse(c, ErrorCode.UNSUPPORTED_PROTOCOL, text, msg, now_ns)
        c.phase, c.role = ClientPhase.READY, msg.role
        # The name goes into logs and recordings: no control characters.
        printable = "".join(ch for ch in msg.name if ch.isprintable()).strip()
        c.name = printable or f"client-{c.client_id}"
        holder = self._clients.get(self._holder) if self._holder is not None else None
        welcome = Welcome(
            protocol=PROTOCOL_VERSION,
            client_id=c.client_id,
            rate_hz=self.config.rate_hz,
            robot=self.config.robot,
            role=msg.role,
            holder=self._holder,
            holder_name=holder.name if holder else None,
            estop=self._estop is EstopState.LATCHED,
            recording=self._record is RecordState.RECORDING,
        )
        return Outcome(c.client_id, replies=[welcome])

    def _on_lease(self, c: _Client, msg: Lease, now_ns: int) -> Outcome:
        if c.role is not Role.OPERATOR:
            text = "observers cannot take the lease; connect with role 'operator'"
            return self._refuse(c, ErrorCode.FORBIDDEN_ROLE, text, msg, now_ns)
        if msg.action is LeaseAction.RELEASE:
            if self._holder != c.client_id:
                return self._refuse(c, ErrorCode.NO_LEASE, "you do not hold the lease", msg, now_ns)
            out = Outcome(c.client_id)
            self._end_lease(out, now_ns, reason="lease released")
            out.replies.append(LeaseStatus(None, False, None))
            out.broadcast.append(LeaseStatus(None, False, None))
            out.effects.append(LeaseChanged(None, c.client_id))
            return out
        if self._holder is None or self._holder == c.client_id:
            return self._grant(c, now_ns)
        holder = self._clients[self._holder]
        if msg.force and c.identity.is_admin:
            logger.warning("%s takes the lease over from %s", c.label(), holder.label())
            return self._grant(c, now_ns)
        if msg.force:
            text = "taking the lease over needs the server's admin token"
            return self._refuse(c, ErrorCode.UNAUTHORIZED, text, msg, now_ns)
        since_s = (now_ns - (holder.lease_since_ns or now_ns)) / 1e9
        text = (
            f"the lease is held by {holder.label()} for {since_s:.0f} s; "
            "ask them to release it (an admin may take it over with force)"
        )
        out = self._refuse(c, ErrorCode.LEASE_HELD, text, msg, now_ns)
        out.replies.insert(0, LeaseStatus(holder.client_id, False, holder.name))
        return out

    def _on_command(self, c: _Client, cmd: Command, now_ns: int) -> Outcome:
        refusal = self._holder_check(c, "command the arm")
        if refusal is not None:
            return self._refuse(c, refusal[0], refusal[1], cmd, now_ns)
        try:
            check_command_shape(cmd, self.config.robot.joint_names)
        except ProtocolError as exc:
            return self._error(c, exc, now_ns)
        if c.last_seq is not None and cmd.seq <= c.last_seq:
            text = f"seq {cmd.seq} is not above the last accepted {c.last_seq}; dropped"
            return self._refuse(c, ErrorCode.STALE_SEQ, text, cmd, now_ns)
        c.last_seq = cmd.seq
        if self._estop is EstopState.LATCHED:
            text = "the e-stop is latched; the lease holder must send estop reset first"
            return self._refuse(c, ErrorCode.ESTOP_LATCHED, text, cmd, now_ns)
        return Outcome(c.client_id, effects=[ApplyCommand(c.client_id, cmd, now_ns)])

    def _on_record(self, c: _Client, msg: Record, now_ns: int) -> Outcome:
        refusal = self._holder_check(c, "record")
        if refusal is not None:
            return self._refuse(c, refusal[0], refusal[1], msg, now_ns)
        recording = self._record is RecordState.RECORDING
        if msg.action is RecordAction.START and recording:
            text = "already recording; send record stop or discard first"
            return self._refuse(c, ErrorCode.BAD_STATE, text, msg, now_ns)
        if msg.action is not RecordAction.START and not recording:
            text = f"cannot {msg.action}: nothing is being recorded; send record start first"
            return self._refuse(c, ErrorCode.BAD_STATE, text, msg, now_ns)
        effect: Effect
        if msg.action is RecordAction.START:
            self._record, self._record_by = RecordState.RECORDING, c.client_id
            task = msg.task or ""
            effect = StartRecording(c.client_id, task, c.identity.principal, c.name)
            status = RecordStatus(True, msg.action, task, None, c.client_id, "operator")
        else:
            self._record, self._record_by = RecordState.IDLE, None
            if msg.action is RecordAction.STOP:
                effect = StopRecording(msg.success, "operator")
            else:
                effect = DiscardRecording()
            status = RecordStatus(False, msg.action, None, msg.success, c.client_id, "operator")
        return Outcome(c.client_id, [status], [status], [effect])

    def _on_estop(self, c: _Client, msg: Estop, now_ns: int) -> Outcome:
        if msg.action is EstopAction.TRIGGER:
            self._estop = EstopState.LATCHED
            reason = f"triggered by {c.label()}"
            logger.warning("e-stop %s", reason)
            status = EstopStatus(True, c.client_id, reason)
            return Outcome(c.client_id, [status], [status], [TriggerEstop(c.client_id, reason)])
        refusal = self._holder_check(c, "reset the e-stop")
        if refusal is not None:
            return self._refuse(c, refusal[0], refusal[1], msg, now_ns)
        if self._estop is not EstopState.LATCHED:
            return self._refuse(c, ErrorCode.BAD_STATE, "the e-stop is not latched", msg, now_ns)
        self._estop = EstopState.ARMED
        logger.warning("e-stop reset by %s", c.label())
        status = EstopStatus(False, c.client_id, f"reset by {c.label()}")
        return Outcome(c.client_id, [status], [status], [ResetEstop(c.client_id)])

    def _on_ping(self, c: _Client, msg: Ping, now_ns: int) -> Outcome:
        return Outcome(c.client_id, replies=[Pong(now_ns, msg.t_client_ns)])

    # --- helpers --------------------------------------------------------------------------

    def _get(self, client_id: int) -> _Client:
        try:
            return self._clients[client_id]
        except KeyError:
            raise UnknownClientError(f"no connected client {client_id}") from None

    def _holder_check(self, c: _Client, what: str) -> tuple[ErrorCode, str] | None:
        if c.role is not Role.OPERATOR:
            return ErrorCode.FORBIDDEN_ROLE, f"observers cannot {what}; connect as 'operator'"
        if self._holder != c.client_id:
            holder = self._clients.get(self._holder) if self._holder is not None else None
            who = f"{holder.label()} holds it" if holder else "nobody holds it"
            return (
                ErrorCode.NO_LEASE,
                f"only the lease holder may {what} ({who}); send lease request",
            )
        return None

    def _grant(self, c: _Client, now_ns: int) -> Outcome:
        out = Outcome(c.client_id, replies=[LeaseStatus(c.client_id, True, c.name)])
        previous = self._holder
        if previous == c.client_id:
            return out  # asked again: still granted, nothing changes
        if previous is not None:
            self._end_lease(out, now_ns, reason="lease taken over by an admin")
        self._holder, c.lease_since_ns, c.last_seq = c.client_id, now_ns, None
        out.broadcast.append(LeaseStatus(c.client_id, False, c.name))
        out.effects.append(LeaseChanged(c.client_id, previous))
        logger.info("lease granted to %s", c.label())
        return out

    def _end_lease(self, out: Outcome, now_ns: int, reason: str) -> None:
        """Take the lease from its holder; a recording in progress stops with it."""
        holder = self._clients[self._holder] if self._holder is not None else None
        if holder is not None and holder.lease_since_ns is not None:
            holder.lease_held_ns += now_ns - holder.lease_since_ns
            holder.lease_since_ns = None
        self._holder = None
        if self._record is RecordState.RECORDING:
            self._record, self._record_by = RecordState.IDLE, None
            status = RecordStatus(False, RecordAction.STOP, reason=f"lease_lost: {reason}")
            if out.client_id is not None:
                out.replies.append(status)
            out.broadcast.append(status)
            out.effects.append(StopRecording(None, "lease_lost"))

    def _flooded(self, c: _Client, verdict: Verdict) -> Outcome:
        if verdict is Verdict.DROP:
            return Outcome(c.client_id)
        if verdict is Verdict.WARN:
            text = (
                f"more than {self.config.max_rate_hz:g} messages/s: messages are dropped; "
                f"still flooding in {self.config.flood_grace_s:g} s closes the connection"
            )
            return Outcome(c.client_id, replies=[ErrorReply(ErrorCode.RATE_LIMITED, text)])
        c.phase = ClientPhase.CLOSING
        logger.warning("%s disconnected for flooding", c.label())
        reason = "rate limit exceeded"
        return Outcome(
            c.client_id, effects=[Disconnect(c.client_id, CLOSE_POLICY_VIOLATION, reason)]
        )

    def _refuse(
        self, c: _Client, code: ErrorCode, text: str, msg: ClientMessage, now_ns: int
    ) -> Outcome:
        seq = msg.seq if isinstance(msg, (JointsCommand, VelocityCommand)) else None
        return self._error(c, ProtocolError(code, text, ref_type=msg.type, seq=seq), now_ns)

    def _error(self, c: _Client, exc: ProtocolError, now_ns: int) -> Outcome:
        """An error reply; those about streamed commands are thinned out per code."""
        text = exc.message
        if exc.ref_type == "command":
            last = c.last_error_ns.get(exc.code)
            if last is not None and now_ns - last < self.config.error_interval_s * 1e9:
                c.held_back[exc.code] = c.held_back.get(exc.code, 0) + 1
                return Outcome(c.client_id)
            c.last_error_ns[exc.code] = now_ns
            held = c.held_back.pop(exc.code, 0)
            if held:
                text += f" ({held} more like this were not reported)"
        return Outcome(c.client_id, [ErrorReply(exc.code, text, exc.ref_type, exc.seq)])


def _allowed_before_hello(msg: ClientMessage) -> bool:
    return isinstance(msg, (Hello, Ping)) or (
        isinstance(msg, Estop) and msg.action is EstopAction.TRIGGER
    )
