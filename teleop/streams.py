"""The server's two broadcasts: robot state and camera frames.

Each message is encoded at most once per framing (msgpack, JSON), however many clients
get it, and only when some client asks for that framing.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from typing import TYPE_CHECKING

import cv2
import numpy as np

from teleop.outbox import Encoded, Payload
from teleop.protocol import (
    CameraFrame,
    Command,
    LoopStats,
    Message,
    RecordingInfo,
    State,
    encode,
)
from teleop.quality.activity import ActivityMeter

if TYPE_CHECKING:
    from robots.base import Frame
    from teleop.server import TeleopServer

log = logging.getLogger(__name__)

KEEP_CLIENT_TIMES = 1024
"""How many recent commands' client timestamps are kept, to echo in ``state``."""


def encoder(message: Message) -> Encoded:
    """A function giving ``message`` in either framing, each encoded once, on demand."""
    cache: dict[bool, Payload] = {}

    def get(binary: bool) -> Payload:
        if binary not in cache:
            cache[binary] = encode(message, binary)
        return cache[binary]

    return get


class StateStreamer:
    """Sends ``state`` to every client at the state rate, and to the operator at once
    each time one of its commands is applied (so it can time the round trip)."""

    def __init__(self, server: TeleopServer) -> None:
        self._server = server
        self._client_times: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._last_holder: int | None = None

    def note_command(self, command: Command) -> None:
        """Remember the client's timestamp of ``command``, to echo with its ``seq``."""
        if command.t_client_ns is not None:
            self._client_times[command.seq] = command.t_client_ns
            while len(self._client_times) > KEEP_CLIENT_TIMES:
                self._client_times.popitem(last=False)

    async def run(self) -> None:
        period = 1.0 / self._server.config.state_rate_hz
        next_t = time.monotonic()
        while True:
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            message = self.build()
            if message is None:
                continue
            self._meter_activity(message)
            encoded = encoder(message)
            for cid in self._server.session.ready_clients():
                if (outbox := self._server.outboxes.get(cid)) is not None:
                    outbox.stream("state", encoded)

    def _meter_activity(self, state: State) -> None:
        """Count the time the arm moves under the lease holder, for the ledger."""
        server = self._server
        holder = server.session.holder
        if holder != self._last_holder and self._last_holder in server.activity:
            server.activity[self._last_holder].pause()  # no credit for the time without it
        self._last_holder = holder
        if holder is not None:
            meter = server.activity.setdefault(holder, ActivityMeter())
            meter.update(state.t_ns, state.q)

    def push_to(self, cid: int) -> None:
        outbox = self._server.outboxes.get(cid)
        message = self.build()
        if outbox is not None and message is not None:
            outbox.stream("state", encoder(message))

    def build(self) -> State | None:
        server = self._server
        snap = server.loop.snapshot
        if snap is None:
            return None
        s = snap.state
        stats = server.loop.loop_stats()
        faults = tuple(s.faults) + ((snap.fault,) if snap.fault else ())
        return State(
            t_ns=s.t_ns,
            q=_vector(s.q),
            dq=_vector(s.dq),
            tau=_vector(s.tau),
            ee_force=_vector(s.ee_force),
            seq=snap.seq,
            estop=snap.estop,
            recording=self._recording(),
            grasp_force=_finite(s.grasp_force),
            loop=LoopStats(stats.rate_hz, stats.jitter_p99_ms, stats.overruns),
            safety=snap.safety.as_dict(),
            faults=faults,
            t_client_ns=self._client_times.get(snap.seq) if snap.seq is not None else None,
        )

    def _recording(self) -> RecordingInfo:
        link = self._server.recording
        return link.info() if link is not None else RecordingInfo()


class FrameStreamer:
    """JPEG-encodes each camera's newest frame (in a worker thread) at the frame rate."""

    def __init__(self, server: TeleopServer, pool: concurrent.futures.Executor) -> None:
        self._server = server
        self._pool = pool
        self._sent: dict[str, int] = {}

    async def run(self) -> None:
        period = 1.0 / self._server.config.frame_rate_hz
        next_t = time.monotonic()
        aio = asyncio.get_running_loop()
        while True:
            next_t += period
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            if not self._server.session.ready_clients():
                continue
            for name, camera in self._server.robot.cameras.items():
                frame = camera.latest()
                if frame is None or self._sent.get(name) == frame.seq:
                    continue
                self._sent[name] = frame.seq
                quality = self._server.config.jpeg_quality
                data = await aio.run_in_executor(self._pool, jpeg, frame, quality)
                self._offer(name, frame, data)

    def _offer(self, name: str, frame: Frame, data: bytes) -> None:
        height, width = frame.image.shape[:2]
        encoded = encoder(CameraFrame(name, frame.t_ns, frame.seq, width, height, data))
        for cid in self._server.session.ready_clients():
            if (outbox := self._server.outboxes.get(cid)) is not None:
                outbox.stream(f"frame:{name}", encoded)


def jpeg(frame: Frame, quality: int) -> bytes:
    """Encode an RGB frame as JPEG (OpenCV releases the GIL while it works)."""
    ok, buf = cv2.imencode(".jpg", frame.image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)


def _vector(values: np.ndarray) -> tuple[float, ...]:
    return tuple(np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0).tolist())


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else 0.0
