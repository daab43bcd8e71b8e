"""One client's outgoing messages: replies in order, streams latest-wins.

Replies (welcome, lease, errors...) queue up to a bound. The state stream and each
camera's frame stream hold only their newest message, so a client that reads slowly
gets fewer states and frames, never older ones, and never slows anyone else: the
broadcasters only drop bytes into slots, and each client's own task does the sending.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

Payload = bytes | str
Encoded = Callable[[bool], Payload]
"""Returns a message's wire form, binary (msgpack) or text (JSON)."""

MAX_REPLIES = 512
STALL_CLOSE_CODE = 1008


class Outbox:
    """Holds and sends one client's messages.

    Args:
        ws: The client's connection.
        stall_timeout_s: A send blocked this long [s] means the client stopped
            reading: the connection is closed.
    """

    def __init__(self, ws: ServerConnection, stall_timeout_s: float = 10.0) -> None:
        self.ws = ws
        self.binary = True
        self.stall_timeout_s = stall_timeout_s
        self._replies: collections.deque[Encoded] = collections.deque()
        self._slots: dict[str, Encoded] = {}
        self._ready = asyncio.Event()
        self.dropped = 0
        """Stream messages replaced before they were sent (the client read slowly)."""

    def reply(self, encoded: Encoded) -> None:
        if len(self._replies) >= MAX_REPLIES:
            log.warning("client %s is not reading its replies; closing", self.ws.id)
            self._abort()
            return
        self._replies.append(encoded)
        self._ready.set()

    def stream(self, key: str, encoded: Encoded) -> None:
        """Offer the newest message of stream ``key`` (``"state"``, ``"frame:front"``)."""
        self.dropped += key in self._slots
        self._slots[key] = encoded
        self._ready.set()

    async def run(self) -> None:
        """Send until the connection closes."""
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while (encoded := self._next()) is not None:
                    await self._send(encoded(self.binary))
        except ConnectionClosed:
            pass

    def _next(self) -> Encoded | None:
        if self._replies:
            return self._replies.popleft()
        if self._slots:
            key = next(iter(self._slots))
            return self._slots.pop(key)
        return None

    async def _send(self, payload: Payload) -> None:
        try:
            await asyncio.wait_for(self.ws.send(payload), self.stall_timeout_s)
        except TimeoutError:
            log.warning("client %s stalled for %.0f s; closing", self.ws.id, self.stall_timeout_s)
            self._abort()
            raise ConnectionClosed(None, None) from None

    def _abort(self) -> None:
        transport = self.ws.transport
        if transport is not None:
            transport.abort()
