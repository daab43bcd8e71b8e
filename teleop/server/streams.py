"""The server's two broadcasts: robot state and camera frames.

Each message is encoded at most once per framing (msgpack, JSON), however many clients
get it, and only when some client asks for that framing. The streamers get only what
they send from: the clients' outboxes (:class:`Audience`), the control loop's snapshot,
the cameras. A ``state`` message is built from the loop's snapshot by the pure function
:func:`state_message`.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping

import cv2
import numpy as np

from robots.base import Frame, Robot
from teleop.control import ControlLoop, LoopSnapshot
from teleop.protocol import CameraFrame, Command, LoopStats, Message, RecordingInfo, State, encode
from teleop.quality.activity import ActivityMeter
from teleop.server.outbox import Encoded, Outbox, Payload
from teleop.tickstats import LoopStats as TickLoopStats

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


def state_message(
    snap: LoopSnapshot,
    stats: TickLoopStats,
    recording: RecordingInfo,
    t_client_ns: int | None = None,
) -> State:
    """The ``state`` message for one snapshot of the control loop.

    Args:
        snap: What the loop last did.
        stats: The loop's timing.
        recording: What the recorder is doing.
        t_client_ns: The client's timestamp of the command ``snap.seq``, if it sent one.

    A NaN in a reading (a faulty sensor) is sent as 0 and ±inf as the largest float,
    so that the message always encodes; the robot's faults say what is wrong.
    """
    s = snap.state
    faults = tuple(s.faults) + ((snap.fault,) if snap.fault else ())
    return State(
        t_ns=s.t_ns,
        q=_vector(s.q),
        dq=_vector(s.dq),
        tau=_vector(s.tau),
        ee_force=_vector(s.ee_force),
        seq=snap.seq,
        estop=snap.estop,
        recording=recording,
        grasp_force=_finite(s.grasp_force),
        loop=LoopStats(stats.rate_hz, stats.jitter_p99_ms, stats.overruns),
        safety=snap.safety.as_dict(),
        faults=faults,
        t_client_ns=t_client_ns,
    )


@dataclasses.dataclass(frozen=True)
class Audience:
    """Who gets the broadcasts: the outboxes of the clients that said ``hello``.

    Attributes:
        outboxes: Every connected client's outbox, by client id (the server keeps it).
        ready_clients: The ids of the clients that said ``hello``.
    """

    outboxes: Mapping[int, Outbox]
    ready_clients: Callable[[], list[int]]

    def __bool__(self) -> bool:
        return bool(self.ready_clients())

    def reply(self, encoded: Encoded, *, exclude: int | None = None) -> None:
        """Queue a message for every ready client but ``exclude``."""
        for cid in self.ready_clients():
            if cid != exclude and (outbox := self.outboxes.get(cid)) is not None:
                outbox.reply(encoded)

    def stream(self, key: str, encoded: Encoded) -> None:
        """Offer the newest message of stream ``key`` to every ready client."""
        for cid in self.ready_clients():
            if (outbox := self.outboxes.get(cid)) is not None:
                outbox.stream(key, encoded)


class StateStreamer:
    """Sends ``state`` to every client at the state rate, and to the operator at once
    each time one of its commands is applied (so it can time the round trip).

    Args:
        audience: Who gets the states.
        loop: The control loop, whose snapshot each state shows.
        rate_hz: States per second to each client, [Hz].
        recording: What the recorder is doing, asked for each state.
        holder: The client that holds the lease, or None.
        activity: Per client, time the arm moved while it held the lease (metered here,
            for the ledger).
    """

    def __init__(
        self,
        audience: Audience,
        loop: ControlLoop,
        rate_hz: float,
        recording: Callable[[], RecordingInfo],
        holder: Callable[[], int | None],
        activity: dict[int, ActivityMeter],
    ) -> None:
        self._audience = audience
        self._loop = loop
        self._period_s = 1.0 / rate_hz
        self._recording = recording
        self._holder = holder
        self._activity = activity
        self._client_times: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._last_holder: int | None = None

    def note_command(self, command: Command) -> None:
        """Remember the client's timestamp of ``command``, to echo with its ``seq``."""
        if command.t_client_ns is not None:
            self._client_times[command.seq] = command.t_client_ns
            while len(self._client_times) > KEEP_CLIENT_TIMES:
                self._client_times.popitem(last=False)

    async def run(self) -> None:
        next_t = time.monotonic()
        while True:
            next_t += self._period_s
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            message = self.build()
            if message is None:
                continue
            self._meter_activity(message)
            self._audience.stream("state", encoder(message))

    def _meter_activity(self, state: State) -> None:
        """Count the time the arm moves under the lease holder, for the ledger."""
        holder = self._holder()
        if holder != self._last_holder and self._last_holder in self._activity:
            self._activity[self._last_holder].pause()  # no credit for the time without it
        self._last_holder = holder
        if holder is not None:
            meter = self._activity.setdefault(holder, ActivityMeter())
            meter.update(state.t_ns, state.q)

    def push_to(self, cid: int) -> None:
        outbox = self._audience.outboxes.get(cid)
        message = self.build()
        if outbox is not None and message is not None:
            outbox.stream("state", encoder(message))

    def build(self) -> State | None:
        """The newest state, or None before the loop's first tick."""
        snap = self._loop.snapshot
        if snap is None:
            return None
        t_client = self._client_times.get(snap.seq) if snap.seq is not None else None
        return state_message(snap, self._loop.loop_stats(), self._recording(), t_client)


class FrameStreamer:
    """JPEG-encodes each camera's newest frame (in a worker thread) at the frame rate.

    Args:
        audience: Who gets the frames.
        robot: The robot whose cameras are streamed (asked each time: a reconnected
            robot may have new ones).
        rate_hz: Frames per second per camera to each client, [Hz].
        jpeg_quality: JPEG quality, 1 to 100.
        pool: Where the JPEG encoding runs.
    """

    def __init__(
        self,
        audience: Audience,
        robot: Robot,
        rate_hz: float,
        jpeg_quality: int,
        pool: concurrent.futures.Executor,
    ) -> None:
        self._audience = audience
        self._robot = robot
        self._period_s = 1.0 / rate_hz
        self._quality = jpeg_quality
        self._pool = pool
        self._sent: dict[str, int] = {}

    async def run(self) -> None:
        next_t = time.monotonic()
        aio = asyncio.get_running_loop()
        while True:
            next_t += self._period_s
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
            if not self._audience:
                continue
            for name, camera in self._robot.cameras.items():
                frame = camera.latest()
                if frame is None or self._sent.get(name) == frame.seq:
                    continue
                self._sent[name] = frame.seq
                data = await aio.run_in_executor(self._pool, jpeg, frame, self._quality)
                self._offer(name, frame, data)

    def _offer(self, name: str, frame: Frame, data: bytes) -> None:
        height, width = frame.image.shape[:2]
        encoded = encoder(CameraFrame(name, frame.t_ns, frame.seq, width, height, data))
        self._audience.stream(f"frame:{name}", encoded)


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
