"""One connection of the leader client, and what it watches on the server's side.

The server tells the leader that it stopped taking the stream in three ways, and each
one sends the engager back to comparing (see :meth:`Session.server_stopped`):

- an ``error`` about a command (``unsafe_command`` from the jump guard,
  ``estop_latched``, ``stale_seq``, ...);
- its ``watchdog_holds`` counter in ``state.safety`` went up: the follower held;
- the client itself went quiet for ``quiet_s`` (the server's watchdog time) while
  engaged, e.g. after a stall of this process.
"""

from __future__ import annotations

import dataclasses
import math

from teleop.client import TeleopClient
from teleop.clients.leader.engage import Decision, Engager, Phase
from teleop.clients.leader.mapping import LeaderMapping
from teleop.clients.link import check_session, estop_latched
from teleop.protocol import ErrorReply


@dataclasses.dataclass(eq=False)
class Session:
    """What one connection knows; dropped with it, so nothing outlives a reconnect.

    Attributes:
        client: The connected client (it holds the lease).
        mapping: The leader's calibration lined up with this follower.
        engager: This connection's engager (it starts by comparing).
        decision: The newest tick's decision.
        last_send_s: When the last command was sent, [s] on the loop's clock.
        sent: Commands sent on this connection.
        last_error: The newest server error already looked at.
        watchdog_holds: The server's ``watchdog_holds`` counter when last seen.
    """

    client: TeleopClient
    mapping: LeaderMapping
    engager: Engager
    decision: Decision = dataclasses.field(default_factory=lambda: Decision(Phase.WAITING))
    last_send_s: float = -math.inf
    sent: int = 0
    last_error: ErrorReply | None = None
    watchdog_holds: int | None = None

    def __post_init__(self) -> None:
        if self.last_error is None and self.client.errors:
            self.last_error = self.client.errors[-1]  # older ones belong to the handshake

    def check(self) -> None:
        """Raise ClientError when the connection is closed or the lease was taken away."""
        check_session(self.client)

    def follower_q(self) -> tuple[float, ...] | None:
        """The follower's measured q to compare with; None while there is none, or while
        the e-stop is latched (nothing may be sent then)."""
        state = self.client.state
        if state is None or state.estop:
            return None
        return tuple(state.q)

    @property
    def estop_latched(self) -> bool:
        return estop_latched(self.client)

    def server_stopped(self, now_s: float, quiet_s: float) -> tuple[bool, list[ErrorReply]]:
        """Whether the server stopped taking the stream since the last call.

        Args:
            now_s: Now, [s] on the clock of :attr:`last_send_s`.
            quiet_s: A gap between commands this long counts as a watchdog stop, [s].

        Returns:
            Whether to compare again, and the server's new errors (oldest first).
        """
        errors = self._new_errors()
        stopped = any(e.ref_type in (None, "command") for e in errors)
        state = self.client.state
        if state is not None:
            holds = int(state.safety.get("watchdog_holds", 0))
            stopped = stopped or (self.watchdog_holds is not None and holds > self.watchdog_holds)
            self.watchdog_holds = holds
        quiet = self.engager.engaged and now_s - self.last_send_s >= quiet_s
        return stopped or quiet, errors

    def _new_errors(self) -> list[ErrorReply]:
        new: list[ErrorReply] = []
        for error in reversed(self.client.errors):
            if error is self.last_error:
                break
            new.append(error)
        if new:
            self.last_error = new[0]
        return new[::-1]
