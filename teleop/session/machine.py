"""The session state machine: clients, roles, the operator lease, the e-stop latch.

:class:`ServerSession` holds everything the server decides about its clients, and does
no I/O: no sockets, no threads, no clock. Each method takes the time ``now_ns`` [ns, on
``time.monotonic_ns()``] and returns an :class:`~teleop.session.effects.Outcome`:
messages for the client that spoke, messages for every other client that said ``hello``,
and effects for the server to carry out (apply a command, start a recording, latch the
e-stop, drop a connection). The websocket server only moves messages::

    client_id = session.connect(identity, now)       # after the handshake passed auth
    outcome = session.receive(client_id, frame, now)  # every frame, raw or decoded
    outcome = session.disconnect(client_id, now)      # always, in a finally
    outcome = session.poll(now)                       # a few times a second: hello timeouts

The rules it enforces are listed in :mod:`teleop.session`; ``docs/protocol.md`` has the
table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from teleop.errors import ErrorCode, ProtocolError, UnknownClientError
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
    Role,
    VelocityCommand,
    Welcome,
    check_command_shape,
    decode,
)
from teleop.session.auth import Identity
from teleop.session.clients import Client, allowed_before_hello, lease_refusal
from teleop.session.config import CLOSE_POLICY_VIOLATION, EstopState, RecordState, SessionConfig
from teleop.session.effects import (
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
from teleop.session.ratelimit import FloodGuard

logger = logging.getLogger(__name__)


class ServerSession:
    """Every connected client of one robot, and the station state they share.

    Args:
        config: Session settings.
    """

    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self._clients: dict[int, Client] = {}
        self._next_id = 1
        self._holder: int | None = None
        self._estop = EstopState.ARMED
        self._record = RecordState.IDLE
        self._record_by: int | None = None
        self._handlers: dict[type, Callable[[Client, Any, int], Outcome]] = {
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
        return self._get(client_id).info(now_ns)

    # --- what the server calls ------------------------------------------------------------

    def connect(self, identity: Identity, now_ns: int) -> int:
        """Register a connection that passed the handshake; returns its new client id."""
        client_id = self._next_id
        self._next_id += 1
        flood = FloodGuard(self.config.max_rate_hz, self.config.burst, self.config.flood_grace_s)
        self._clients[client_id] = Client(client_id, identity, now_ns, flood)
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
        flooded = c.admit(now_ns, self.config.max_rate_hz, self.config.flood_grace_s)
        if flooded is not None:
            return flooded
        if isinstance(data, (bytes, str)):
            try:
                msg = decode(data)
            except ProtocolError as exc:
                return self._error(c, exc, now_ns)
        else:
            msg = data
        if c.phase is ClientPhase.AWAITING_HELLO and not allowed_before_hello(msg):
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

        Goes through the same thinning as the session's own command errors. A client that
        has left meanwhile is skipped.

        Args:
            exc: The refusal, e.g. ``ProtocolError(ErrorCode.UNSAFE_COMMAND, "...",
                ref_type="command", seq=cmd.seq)``.
        """
        c = self._clients.get(client_id)
        return Outcome(None) if c is None else self._error(c, exc, now_ns)

    # --- message handlers -----------------------------------------------------------------

    def _on_hello(self, c: Client, msg: Hello, now_ns: int) -> Outcome:
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

    def _on_lease(self, c: Client, msg: Lease, now_ns: int) -> Outcome:
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

    def _on_command(self, c: Client, cmd: Command, now_ns: int) -> Outcome:
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

    def _on_record(self, c: Client, msg: Record, now_ns: int) -> Outcome:
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

    def _on_estop(self, c: Client, msg: Estop, now_ns: int) -> Outcome:
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

    def _on_ping(self, c: Client, msg: Ping, now_ns: int) -> Outcome:
        return Outcome(c.client_id, replies=[Pong(now_ns, msg.t_client_ns)])

    # --- helpers --------------------------------------------------------------------------

    def _get(self, client_id: int) -> Client:
        try:
            return self._clients[client_id]
        except KeyError:
            raise UnknownClientError(f"no connected client {client_id}") from None

    def _holder_check(self, c: Client, what: str) -> tuple[ErrorCode, str] | None:
        holder = self._clients.get(self._holder) if self._holder is not None else None
        return lease_refusal(c, holder, what)

    def _grant(self, c: Client, now_ns: int) -> Outcome:
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

    def _refuse(
        self, c: Client, code: ErrorCode, text: str, msg: ClientMessage, now_ns: int
    ) -> Outcome:
        return c.refuse(code, text, msg, now_ns, self.config.error_interval_s)

    def _error(self, c: Client, exc: ProtocolError, now_ns: int) -> Outcome:
        return c.error(exc, now_ns, self.config.error_interval_s)
