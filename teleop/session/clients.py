"""What the session keeps about one connected client, and how it answers that client.

A :class:`Client` is the session's record of one connection: who it is, where it
stands (:class:`~teleop.session.effects.ClientPhase`), its lease time, its flood guard
(:meth:`Client.admit`) and the errors held back from it. Its error replies go through
one rule: errors about
``command`` messages, which stream at up to 500 Hz, are sent at most once per
``interval_s`` per code, and the next one counts those held back.
"""

from __future__ import annotations

import dataclasses
import logging

from teleop.errors import ErrorCode, ProtocolError
from teleop.protocol import (
    ClientMessage,
    ErrorReply,
    Estop,
    EstopAction,
    Hello,
    JointsCommand,
    Ping,
    Role,
    VelocityCommand,
)
from teleop.session.auth import Identity
from teleop.session.config import CLOSE_POLICY_VIOLATION
from teleop.session.effects import ClientInfo, ClientPhase, Disconnect, Outcome
from teleop.session.ratelimit import FloodGuard, Verdict

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Client:
    """One connection, from the handshake to its disconnect.

    Attributes:
        connected_ns: When it connected, [ns].
        lease_since_ns: When it took the lease it holds, [ns], or None.
        lease_held_ns: Lease time of its earlier leases, [ns].
        last_error_ns: Per code, when the last ``command`` error was sent, [ns].
        held_back: Per code, ``command`` errors not sent since then.
    """

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

    def info(self, now_ns: int) -> ClientInfo:
        """A snapshot of this client, its lease time counted up to ``now_ns``."""
        held = self.lease_held_ns
        if self.lease_since_ns is not None:
            held += now_ns - self.lease_since_ns
        return ClientInfo(
            client_id=self.client_id,
            name=self.name,
            role=self.role,
            principal=self.identity.principal,
            is_admin=self.identity.is_admin,
            connected_ns=self.connected_ns,
            phase=self.phase,
            lease_held_s=held / 1e9,
        )

    def error(self, exc: ProtocolError, now_ns: int, interval_s: float) -> Outcome:
        """An error reply; those about streamed commands are thinned out per code.

        Args:
            exc: What to tell the client.
            now_ns: Now, [ns].
            interval_s: Least time between two ``command`` errors of one code, [s].
        """
        text = exc.message
        if exc.ref_type == "command":
            last = self.last_error_ns.get(exc.code)
            if last is not None and now_ns - last < interval_s * 1e9:
                self.held_back[exc.code] = self.held_back.get(exc.code, 0) + 1
                return Outcome(self.client_id)
            self.last_error_ns[exc.code] = now_ns
            held = self.held_back.pop(exc.code, 0)
            if held:
                text += f" ({held} more like this were not reported)"
        return Outcome(self.client_id, [ErrorReply(exc.code, text, exc.ref_type, exc.seq)])

    def admit(self, now_ns: int, max_rate_hz: float, grace_s: float) -> Outcome | None:
        """Count one incoming message against the rate limit.

        Returns:
            None to handle the message; else what to do instead: drop it, tell the
            client it is over ``max_rate_hz`` [1/s], or (still flooding ``grace_s``
            [s] later) disconnect it.
        """
        verdict = self.flood.admit(now_ns)
        if verdict is Verdict.ACCEPT:
            return None
        if verdict is Verdict.DROP:
            return Outcome(self.client_id)
        if verdict is Verdict.WARN:
            text = (
                f"more than {max_rate_hz:g} messages/s: messages are dropped; "
                f"still flooding in {grace_s:g} s closes the connection"
            )
            return Outcome(self.client_id, replies=[ErrorReply(ErrorCode.RATE_LIMITED, text)])
        self.phase = ClientPhase.CLOSING
        logger.warning("%s disconnected for flooding", self.label())
        reason = "rate limit exceeded"
        return Outcome(
            self.client_id, effects=[Disconnect(self.client_id, CLOSE_POLICY_VIOLATION, reason)]
        )

    def refuse(
        self, code: ErrorCode, text: str, msg: ClientMessage, now_ns: int, interval_s: float
    ) -> Outcome:
        """An error reply about ``msg``, naming its type and (for a command) its seq."""
        seq = msg.seq if isinstance(msg, (JointsCommand, VelocityCommand)) else None
        exc = ProtocolError(code, text, ref_type=msg.type, seq=seq)
        return self.error(exc, now_ns, interval_s)


def allowed_before_hello(msg: ClientMessage) -> bool:
    """Whether a client may send ``msg`` before its ``hello``: ping and e-stop trigger."""
    return isinstance(msg, (Hello, Ping)) or (
        isinstance(msg, Estop) and msg.action is EstopAction.TRIGGER
    )


def lease_refusal(c: Client, holder: Client | None, what: str) -> tuple[ErrorCode, str] | None:
    """Why ``c`` may not do ``what`` (only the lease holder may), or None if it may.

    Args:
        c: The client asking.
        holder: The client that holds the lease, or None.
        what: The action, for the message, e.g. "command the arm".
    """
    if c.role is not Role.OPERATOR:
        return ErrorCode.FORBIDDEN_ROLE, f"observers cannot {what}; connect as 'operator'"
    if holder is not c:
        who = f"{holder.label()} holds it" if holder else "nobody holds it"
        return ErrorCode.NO_LEASE, f"only the lease holder may {what} ({who}); send lease request"
    return None
