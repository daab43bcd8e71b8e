"""The sans-I/O session: what the server decides about its clients, with no I/O and no clock.

The websocket server hands every frame to :class:`ServerSession` with the time, and
carries out the :class:`~teleop.session.effects.Outcome` it gets back (see
:mod:`.machine`). Modules:

- :mod:`.machine`: :class:`ServerSession`, the state machine, one handler per message;
- :mod:`.clients`: what it keeps about one client, its rate limit and its error replies;
- :mod:`.config`: :class:`SessionConfig` and the station states (e-stop, recording);
- :mod:`.effects`: what a call returns: messages, and effects for the server;
- :mod:`.ratelimit`: the token bucket and the warn-then-disconnect flood decision;
- :mod:`.auth`: the bearer token checked at the handshake, and the identity it gives.

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

from teleop.session.auth import Identity
from teleop.session.config import CLOSE_POLICY_VIOLATION, EstopState, RecordState, SessionConfig
from teleop.session.effects import Outcome
from teleop.session.machine import ServerSession

__all__ = [
    "CLOSE_POLICY_VIOLATION",
    "EstopState",
    "Identity",
    "Outcome",
    "RecordState",
    "ServerSession",
    "SessionConfig",
]
