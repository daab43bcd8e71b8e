"""The operator client's link to the server: what the gamepad and leader clients share.

Both clients connect, take the lease and drive until the connection drops or the lease
is taken, then connect again with exponential backoff; each connection gets a new
:class:`~teleop.client.TeleopClient`, so nothing from before the drop is ever sent. A
refused token ends the client: retrying cannot fix it. Here:

- :class:`LinkConfig`: the connection settings both clients' configs extend;
- :class:`Link`, :func:`link_text` and :func:`status_line`: the connection state, and
  the status line that starts with it;
- :func:`make_client`, :func:`check_session`, :func:`estop_latched`: one connection;
- :class:`StatusPublisher`: hands the newest status to the CLI, at most ``status_hz``
  times a second, and at once when the link changes;
- :class:`Backoff` and :func:`reconnect_forever`: the reconnect loop;
- :class:`LinkedApp`: all of the above, as the base of both clients' apps.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from teleop.client import ClientError, TeleopClient
from teleop.errors import ConfigError

log = logging.getLogger(__name__)

FATAL_CODES = frozenset({"unauthorized", "forbidden"})
"""Connection refusals that retrying cannot fix."""


@dataclasses.dataclass(frozen=True, slots=True)
class LinkConfig:
    """How an operator client connects to the server.

    Args:
        url: The server's ``ws://HOST:PORT``.
        token: Its ``--token``, or None.
        name: This client's name, shown to others and written into recordings.
        status_hz: Status updates per second, in [Hz].
        backoff_initial_s: First wait before reconnecting, in [s]; it doubles.
        backoff_max_s: Longest wait before reconnecting, in [s].
        timeout_s: How long a request waits for the server, in [s].
    """

    url: str
    token: str | None = None
    name: str = "client"
    status_hz: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    timeout_s: float = 5.0

    config_error: ClassVar[type[ValueError]] = ConfigError
    """What a bad setting raises (a client's own ``ValueError`` subclass)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.backoff_initial_s <= self.backoff_max_s:
            raise self.config_error("need 0 < backoff_initial_s <= backoff_max_s")
        if not (self.status_hz > 0.0 and self.timeout_s > 0.0):
            raise self.config_error("status_hz and timeout_s must be > 0")


class Link(enum.Enum):
    """The connection to the server."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RETRYING = "retrying"


def link_text(link: Link, retry_in_s: float | None) -> str:
    """The link's words on the status line, e.g. "disconnected, retrying in 1.3 s".

    Args:
        link: The connection state.
        retry_in_s: Time to the next connection attempt, [s], while retrying.
    """
    if link is Link.RETRYING and retry_in_s is not None:
        return f"disconnected, retrying in {max(0.0, retry_in_s):.1f} s"
    return link.value


def status_line(link: Link, retry_in_s: float | None, parts: Iterable[str], note: str) -> str:
    """A client's status as one line: the link, ``parts``, then the latest note.

    Args:
        link: The connection state.
        retry_in_s: Time to the next connection attempt, [s], while retrying.
        parts: What the client shows, e.g. ``["lease: yes", "force  2.0 N"]``.
        note: The latest notable event, or "".
    """
    return " | ".join([link_text(link, retry_in_s), *parts, *([note] if note else [])])


# --- one connection -----------------------------------------------------------------------


def make_client(config: LinkConfig) -> TeleopClient:
    """A fresh operator client for ``config.url``."""
    return TeleopClient(
        config.url, token=config.token, name=config.name, timeout_s=config.timeout_s
    )


def check_session(client: TeleopClient) -> None:
    """Raise ClientError when the connection is closed or the lease was taken away."""
    if client.closed_reason is not None:
        raise ClientError("closed", client.closed_reason)
    lease = client.lease
    if lease is not None and not lease.granted:
        holder = lease.holder_name or lease.holder
        raise ClientError("lease_lost", f"the lease was taken by {holder}")


def estop_latched(client: TeleopClient) -> bool:
    """Whether the station's e-stop is latched, as the client last heard."""
    if client.state is not None:
        return client.state.estop
    return client.welcome.estop if client.welcome else False


# --- the status line ----------------------------------------------------------------------


class _LinkStatus(Protocol):
    """A client's status: a frozen dataclass whose ``link`` and ``note`` fields say
    where the connection stands."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @property
    def link(self) -> Link: ...

    @property
    def note(self) -> str: ...


S = TypeVar("S", bound=_LinkStatus)
C = TypeVar("C", bound=LinkConfig)


class StatusPublisher(Generic[S]):
    """Keeps a client's newest status and hands it on, throttled.

    Args:
        status: The status to start with.
        on_status: Called with a status when it is published; None to only keep it.
        status_hz: Statuses published per second at most, [Hz], except those forced
            and those whose link changed.
    """

    def __init__(self, status: S, on_status: Callable[[S], None] | None, status_hz: float) -> None:
        self.status = status
        self._on_status = on_status
        self._period_s = 1.0 / status_hz
        self._published_at_s = -math.inf

    def due(self, now_s: float) -> bool:
        """Whether a status would be published at ``now_s`` [s] (building one may cost
        more than a client's tick)."""
        return now_s - self._published_at_s >= self._period_s

    def publish(self, status: S, now_s: float = 0.0, *, force: bool = False) -> None:
        """Keep ``status``; hand it on if forced, if its link changed, or if one is due.

        Args:
            status: The newest status.
            now_s: Now, [s] on the caller's clock.
            force: Hand it on regardless of the rate.
        """
        link_changed = status.link is not self.status.link
        self.status = status
        if force or link_changed or self.due(now_s):
            self._published_at_s = now_s
            if self._on_status is not None:
                self._on_status(status)


# --- reconnecting -------------------------------------------------------------------------


class Backoff:
    """The wait before each reconnection: doubles after each failure, up to a cap.

    Args:
        initial_s: The first wait, [s], and the wait after a connection that got the lease.
        max_s: The longest wait, [s].
    """

    def __init__(self, initial_s: float, max_s: float) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._delay_s = initial_s

    def reset(self) -> None:
        """A connection got the lease: the next wait is the first one again."""
        self._delay_s = self._initial_s

    def next_s(self) -> float:
        """The wait before the next attempt, [s]; the one after is twice as long."""
        delay_s = self._delay_s
        self._delay_s = min(2.0 * delay_s, self._max_s)
        return delay_s


async def reconnect_forever(
    connect: Callable[[], Awaitable[None]],
    offline: Callable[[str, float], Awaitable[None]],
    backoff: Backoff,
) -> NoReturn:
    """Run one connection after another until a fatal refusal.

    Args:
        connect: Runs one connection; it ends only by raising ClientError, and calls
            ``backoff.reset()`` once it holds the lease.
        offline: Waits ``(reason, wait_s)`` before the next attempt, keeping the
            client's status current.
        backoff: The waits between attempts.

    Raises:
        ClientError: The server refused this client's token.
    """
    while True:
        try:
            await connect()
        except ClientError as exc:
            if exc.code in FATAL_CODES:
                raise
            reason = exc.message
        else:  # pragma: no cover - a connection only ends by raising
            reason = "session ended"
        delay_s = backoff.next_s()
        log.warning("disconnected (%s); retrying in %.1f s", reason, delay_s)
        await offline(reason, delay_s)


class LinkedApp(abc.ABC, Generic[C, S]):
    """The part of an operator client app that keeps its link to the server.

    A subclass drives one connection in :meth:`_session`: it takes a client from
    :meth:`_new_client`, calls :meth:`_got_lease` once it holds the lease, and ends only
    by raising ClientError. It waits between connections in :meth:`_offline`;
    :meth:`_reconnect_forever` runs the two in turn.

    Args:
        config: The client's settings.
        status: The status to start with (its defaults are what a new connection shows).
        on_status: Called with the newest status, at most ``config.status_hz`` times a
            second, and at once when the link changes.
        client_factory: Makes a client per connection (tests may wrap it).

    Attributes:
        client: The current connection's client, or None before the first.
        connections: Connections that got the lease so far.
    """

    def __init__(
        self,
        config: C,
        status: S,
        on_status: Callable[[S], None] | None,
        client_factory: Callable[[C], TeleopClient],
    ) -> None:
        self.config = config
        self.client: TeleopClient | None = None
        self.connections = 0
        self._initial = status
        self._client_factory = client_factory
        self._note = ""
        self._publisher = StatusPublisher(status, on_status, config.status_hz)
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)

    @property
    def status(self) -> S:
        """The newest status."""
        return self._publisher.status

    async def _reconnect_forever(self) -> NoReturn:
        await reconnect_forever(self._session, self._offline, self._backoff)

    def _new_client(self) -> TeleopClient:
        """A fresh client for the next connection; the status says "connecting"."""
        client = self._client_factory(self.config)
        self.client = client
        connecting = dataclasses.replace(self._initial, link=Link.CONNECTING, note=self._note)
        self._publisher.publish(connecting, force=True)
        return client

    def _got_lease(self, client: TeleopClient) -> None:
        """Count a connection that holds the lease; the next wait is the first again."""
        self.connections += 1
        self._backoff.reset()
        self._note = f"connected as client {client.client_id}"
        log.info("connected to %s as client %d", self.config.url, client.client_id)

    @abc.abstractmethod
    async def _session(self) -> None:
        """Connect, take the lease and drive; returns only by raising ClientError."""

    @abc.abstractmethod
    async def _offline(self, reason: str, wait_s: float) -> None:
        """Wait ``wait_s`` [s] before reconnecting, keeping the status current."""
