"""``TeleopClient``: the async Python client (msgpack frames) for ``teleop serve``.

The gamepad and leader-arm clients, the benchmarks and the tests are built on it::

    async with TeleopClient("ws://127.0.0.1:8765", token=None, name="me") as client:
        await client.request_lease()
        await client.send_joints(q)
        async for state in client.states():
            ...

A background task reads every message: the newest ``state`` and each camera's newest
``frame`` are kept (and handed to the iterators, latest-wins), replies wake whoever
waits for them, and ``error`` messages are collected in ``errors``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

import websockets
from websockets.asyncio.client import ClientConnection

from teleop.errors import ErrorCode, ProtocolError, TeleopError
from teleop.protocol import (
    CameraFrame,
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
    State,
    VelocityCommand,
    Welcome,
    decode_from_server,
    encode,
)

log = logging.getLogger(__name__)


class ClientError(TeleopError):
    """The server refused a request, or the connection failed; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class TeleopClient:
    """One connection to a teleop server.

    Args:
        url: ``ws://HOST:PORT`` of the server.
        token: The server's ``--token`` (or admin token), sent as a Bearer header.
        role: ``"operator"`` or ``"observer"``.
        name: Shown to other clients and written into recordings.
        timeout_s: How long requests wait for the server's answer, in [s].
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        role: str = "operator",
        name: str = "",
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self._token = token
        self.role = Role(role)
        self.name = name
        self.timeout_s = timeout_s
        self.welcome: Welcome | None = None
        self.state: State | None = None
        self.frames: dict[str, CameraFrame] = {}
        self.errors: collections.deque[ErrorReply] = collections.deque(maxlen=1000)
        self.lease: LeaseStatus | None = None
        self.estop_status: EstopStatus | None = None
        self.record_status: RecordStatus | None = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0
        self._changed = asyncio.Condition()
        self._state_queue: asyncio.Queue[State] = asyncio.Queue(maxsize=1)
        self._frame_queue: asyncio.Queue[CameraFrame] = asyncio.Queue(maxsize=4)
        self._pong: asyncio.Future[Pong] | None = None
        self.closed_reason: str | None = None

    @property
    def client_id(self) -> int:
        assert self.welcome is not None, "connect() first"
        return self.welcome.client_id

    @property
    def has_lease(self) -> bool:
        return self.lease is not None and self.lease.granted

    # -- connection ----------------------------------------------------------------------

    async def connect(self) -> Welcome:
        """Open the websocket, say hello, and wait for ``welcome``.

        Raises:
            ClientError: ``unauthorized`` (HTTP 401), ``forbidden`` (403),
                ``unreachable``, or the server's refusal of the hello.
        """
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            self._ws = await websockets.connect(
                self.url,
                additional_headers=headers,
                compression=None,
                open_timeout=self.timeout_s,
                max_size=None,
                ping_interval=None,
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            code = {401: "unauthorized", 403: "forbidden"}.get(status, "http_error")
            hint = " (wrong or missing --token?)" if status == 401 else ""
            raise ClientError(code, f"server refused the connection: HTTP {status}{hint}") from exc
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise ClientError("unreachable", f"cannot connect to {self.url}: {exc}") from exc
        self._reader = asyncio.create_task(self._read(), name="teleop-client-reader")
        await self._send(Hello(self.role, self.name))
        welcome = await self._wait(lambda: self.welcome, "hello")
        return welcome

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- requests ------------------------------------------------------------------------

    async def request_lease(self, *, force: bool = False) -> LeaseStatus:
        """Ask for control. Raises ``ClientError(lease_held)`` naming the holder."""
        self.lease = None
        await self._send(Lease(LeaseAction.REQUEST, force=force))
        status = await self._wait(lambda: self.lease, "lease")
        if not status.granted:
            holder = status.holder_name or status.holder
            raise ClientError(ErrorCode.LEASE_HELD.value, f"the lease is held by {holder}")
        self._seq = 0
        return status

    async def release_lease(self) -> LeaseStatus:
        self.lease = None
        await self._send(Lease(LeaseAction.RELEASE))
        return await self._wait(lambda: self.lease, "lease")

    async def send_joints(self, q: Iterable[float], *, deadman: bool | None = None) -> int:
        """Stream a joint target: arm joints [rad], then the gripper opening [0, 1].

        Returns:
            The command's ``seq``; a ``state`` with this ``seq`` shows it applied.
        """
        self._seq += 1
        q_tuple = tuple(float(v) for v in q)
        await self._send(JointsCommand(self._seq, q_tuple, deadman, time.monotonic_ns()))
        return self._seq

    async def send_velocity(
        self,
        linear: Sequence[float],
        angular: Sequence[float] = (0.0, 0.0, 0.0),
        gripper: float = 1.0,
        *,
        deadman: bool = True,
    ) -> int:
        """Stream an end-effector velocity: ``linear`` [m/s], ``angular`` [rad/s], base frame."""
        self._seq += 1
        await self._send(
            VelocityCommand(
                self._seq,
                tuple(float(v) for v in linear),
                tuple(float(v) for v in angular),
                float(gripper),
                deadman,
                time.monotonic_ns(),
            )
        )
        return self._seq

    async def record_start(self, task: str) -> RecordStatus:
        return await self._record(Record(RecordAction.START, task=task))

    async def record_stop(
        self, success: bool | None = True, *, wait: bool = True
    ) -> RecordStatus | None:
        """Stop and save the episode; by default, return once the server says it is saved.

        Raises:
            ClientError: ``record_failed`` if the save failed, or the stop was refused.
        """
        if not wait:
            await self._send(Record(RecordAction.STOP, success=success))
            return None
        status = await self._record(Record(RecordAction.STOP, success=success))
        if not status.reason.startswith(("saved", "failed")):
            status = await self._wait(self._saved_or_failed, "record stop", timeout_s=30.0)
        if status.reason.startswith("failed"):
            raise ClientError(ErrorCode.RECORD_FAILED.value, status.reason)
        return status

    async def record_discard(self) -> RecordStatus:
        return await self._record(Record(RecordAction.DISCARD))

    async def estop(self) -> EstopStatus:
        """Latch the e-stop (any client may)."""
        return await self._estop(EstopAction.TRIGGER)

    async def reset_estop(self) -> EstopStatus:
        """Release the e-stop latch (the lease holder only)."""
        return await self._estop(EstopAction.RESET)

    async def ping(self) -> float:
        """Round trip to the server and back, in [s]."""
        loop = asyncio.get_running_loop()
        self._pong = loop.create_future()
        start = time.monotonic_ns()
        await self._send(Ping(start))
        await asyncio.wait_for(self._pong, self.timeout_s)
        return (time.monotonic_ns() - start) / 1e9

    # -- streams -------------------------------------------------------------------------

    async def states(self) -> AsyncIterator[State]:
        """The newest states as they come (a slow consumer skips, never lags)."""
        while True:
            yield await self._state_queue.get()

    async def frames_stream(self) -> AsyncIterator[CameraFrame]:
        """Camera frames as they come, any camera."""
        while True:
            yield await self._frame_queue.get()

    async def wait_state(self, predicate: Any, timeout_s: float | None = None) -> State:
        """The first state (the current one included) for which ``predicate(state)``."""
        return await self._wait(
            lambda: self.state if self.state is not None and predicate(self.state) else None,
            "state",
            timeout_s=timeout_s,
        )

    # -- internals -----------------------------------------------------------------------

    async def _record(self, msg: Record) -> RecordStatus:
        self.record_status = None
        await self._send(msg)
        return await self._wait(lambda: self.record_status, f"record {msg.action.value}")

    async def _estop(self, action: EstopAction) -> EstopStatus:
        self.estop_status = None
        await self._send(Estop(action))
        return await self._wait(lambda: self.estop_status, f"estop {action.value}")

    def _saved_or_failed(self) -> RecordStatus | None:
        status = self.record_status
        if status is not None and status.reason.startswith(("saved", "failed")):
            return status
        return None

    async def _send(self, msg: Any) -> None:
        if self._ws is None:
            raise ClientError("not_connected", "call connect() first")
        try:
            await self._ws.send(encode(msg, binary=True))
        except websockets.ConnectionClosed as exc:
            raise ClientError("closed", f"connection closed: {exc}") from exc

    async def _wait(self, ready: Any, what: str, timeout_s: float | None = None) -> Any:
        """Wait until ``ready()`` returns something, an error refers to ``what``, or time out."""
        errors_before = len(self.errors)

        def outcome() -> Any:
            new = list(self.errors)[errors_before:] if len(self.errors) > errors_before else []
            for err in new:
                if err.ref_type is None or what.startswith(err.ref_type):
                    raise ClientError(err.code, err.message)
            if self.closed_reason is not None:
                raise ClientError("closed", self.closed_reason)
            return ready()

        async with self._changed:
            try:
                return await asyncio.wait_for(
                    self._changed.wait_for(outcome), timeout_s or self.timeout_s
                )
            except TimeoutError:
                raise ClientError("timeout", f"no answer to {what} within the timeout") from None

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for data in self._ws:
                try:
                    msg = decode_from_server(data)
                except ProtocolError as exc:
                    log.warning("ignored a bad message from the server: %s", exc)
                    continue
                await self._dispatch(msg)
        except websockets.ConnectionClosed as exc:
            self.closed_reason = f"connection closed ({exc.rcvd.code if exc.rcvd else 1006})"
        else:
            self.closed_reason = "connection closed"
        async with self._changed:
            self._changed.notify_all()

    async def _dispatch(self, msg: Any) -> None:
        match msg:
            case State():
                self.state = msg
                _put_latest(self._state_queue, msg)
            case CameraFrame():
                self.frames[msg.camera] = msg
                _put_latest(self._frame_queue, msg)
            case Welcome():
                self.welcome = msg
            case LeaseStatus():
                self.lease = msg
            case EstopStatus():
                self.estop_status = msg
            case RecordStatus():
                self.record_status = msg
            case ErrorReply():
                log.debug("server error: %s %s", msg.code, msg.message)
                self.errors.append(msg)
            case Pong():
                if self._pong is not None and not self._pong.done():
                    self._pong.set_result(msg)
        async with self._changed:
            self._changed.notify_all()


def _put_latest(queue: asyncio.Queue[Any], item: Any) -> None:
    """Put ``item``, dropping the oldest entry if the queue is full."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
