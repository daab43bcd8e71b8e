"""Helpers for the leader client's tests: calibrations, emulated arms in their own
processes, an in-process app runner, and a station (``teleop serve --robot so101`` as a
subprocess in front of an emulated follower)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from timing import MS, SCALE

from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.servo_model import ServoPhysics
from robots.serial.so101 import JOINT_NAMES
from teleop.client import TeleopClient
from teleop.clients.leader.app import LeaderApp
from teleop.clients.leader.config import LeaderConfig
from teleop.clients.leader.engage import Phase
from teleop.clients.leader.hand import EmulatedArm, emulated_arm

# The leader: its own homing offsets, one joint reversed and the gripper closed at the
# high end, so a test that passes cannot be taking ticks for radians.
LEADER = Calibration(
    JOINT_NAMES,
    (
        JointCalibration(1, 1, 2100, 1000, 3200),
        JointCalibration(2, -1, 1900, 900, 3000),
        JointCalibration(3, 1, 2048, 1024, 3072),
        JointCalibration(4, 1, 2000, 1000, 3000),
        JointCalibration(5, 1, 2048, 1024, 3072),
        JointCalibration(6, -1, 2600, 1400, 2600),
    ),
)
# The follower, as the serial backend's tests calibrate it: arm centred at 2048 with a
# half-turn range, the gripper closed at 1500 and open at 2500.
FOLLOWER = Calibration(
    JOINT_NAMES,
    (*(JointCalibration(i, 1, 2048, 1024, 3072) for i in range(1, 6)),
     JointCalibration(6, 1, 1500, 1500, 2500)),
)  # fmt: skip
FOLLOWER_START = {1: 2048.0, 2: 2048.0, 3: 2048.0, 4: 2048.0, 5: 2048.0, 6: 2000.0}
GRIPPER_OBSTACLE = 1700
"""An object between the follower's jaws: they close no further than opening 0.2."""
GRIPPER_STEP = 0.05 / (1200 * 2 * np.pi / 4096)
"""The leader gripper's ease-in step, in opening units (0.05 rad of its 1200-tick travel)."""
T = TypeVar("T")
FAKE_HOME = np.array([0.0, 0.0, 1.2, 1.5, 0.0, 1.0])
"""``robots.fake.FakeRobot``'s starting pose."""


def leader_ticks(q: ArrayLike) -> dict[int, float]:
    """Leader shaft positions (by servo id) that read as joint vector ``q``."""
    ticks = LEADER.to_ticks(np.asarray(q, dtype=np.float64))
    return {i: float(t) for i, t in zip(LEADER.servo_ids, ticks, strict=True)}


@contextlib.contextmanager
def leader_arm(q: ArrayLike, **kwargs: Any) -> Iterator[EmulatedArm]:
    """An emulated leader arm (own process) posed at joint vector ``q``."""
    with emulated_arm(6, positions=leader_ticks(q), **kwargs) as arm:
        yield arm


@dataclasses.dataclass
class Sent:
    """What the app sent: each target and the phase it was sent in."""

    targets: list[np.ndarray] = dataclasses.field(default_factory=list)
    phases: list[Phase] = dataclasses.field(default_factory=list)
    connections: list[int] = dataclasses.field(default_factory=list)
    app: LeaderApp | None = None
    stall: Callable[[], None] | None = None
    """Called once, from inside the next send (the loop is blocked while it runs)."""

    def __call__(self, target: np.ndarray, phase: Phase) -> None:
        self.targets.append(target.copy())
        self.phases.append(phase)
        self.connections.append(self.app.connections if self.app else 0)
        stall, self.stall = self.stall, None
        if stall is not None:
            stall()

    def of_connection(self, n: int) -> tuple[list[np.ndarray], list[Phase]]:
        """The targets and phases sent on the ``n``-th connection (from 1)."""
        keep = [k for k, c in enumerate(self.connections) if c == n]
        return [self.targets[k] for k in keep], [self.phases[k] for k in keep]

    def __len__(self) -> int:
        return len(self.targets)


@contextlib.asynccontextmanager
async def running(
    url: str, port: str, *, sent: Sent | None = None, **config: Any
) -> AsyncIterator[LeaderApp]:
    """A :class:`LeaderApp` running in this event loop; cancelled on exit."""
    cfg = LeaderConfig(url=url, serial_port=port, calibration=LEADER, **config)
    app = LeaderApp(cfg, on_send=sent)
    if sent is not None:
        sent.app = app
    task = asyncio.create_task(app.run())
    try:
        yield app
    finally:
        task.cancel()
        results = await asyncio.gather(task, return_exceptions=True)
        if not isinstance(results[0], asyncio.CancelledError | type(None)):
            raise results[0]


async def until(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` every 10 ms; fail the test after ``timeout_s`` [s]."""
    deadline = time.monotonic() + timeout_s * SCALE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


def ease_steps(targets: list[np.ndarray], start: np.ndarray) -> np.ndarray:
    """Per-joint change between consecutive targets, the first from ``start``."""
    return np.abs(np.diff(np.vstack([start, *targets]), axis=0))


@dataclasses.dataclass
class Station:
    """``teleop serve --robot so101`` on an emulated follower."""

    url: str
    follower: EmulatedArm
    proc: subprocess.Popen[str]
    log: Path


def _serving_url(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("serving on http://"):
                return "ws://" + line.split("http://", 1)[1].strip().rstrip("/")
        if proc.poll() is not None:
            break
    raise AssertionError(f"teleop serve did not start (exit {proc.poll()})")


@contextlib.contextmanager
def serve_so101(tmp: Path) -> Iterator[Station]:
    """``teleop serve --robot so101`` (a subprocess) on an emulated follower (another)."""
    FOLLOWER.save(tmp / "follower.json")
    physics = {6: ServoPhysics(obstacle=GRIPPER_OBSTACLE)}
    with emulated_arm(6, positions=FOLLOWER_START, physics=physics) as follower:
        log = tmp / "serve.log"
        with log.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "teleop.cli", "serve", "--robot", "so101",
                 "--serial-port", follower.path, "--calibration", str(tmp / "follower.json"),
                 "--port", "0", "--record-dir", str(tmp / "recordings")],
                stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        try:
            yield Station(_serving_url(proc, 90.0), follower, proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.asynccontextmanager
async def observer(url: str) -> AsyncIterator[TeleopClient]:
    """A read-only client of the station (it may trigger the e-stop)."""
    async with TeleopClient(url, role="observer", name="test-observer") as client:
        await client.wait_state(lambda s: True, timeout_s=10.0)
        yield client


async def release_estop(url: str) -> None:
    """Reset a latched e-stop (e.g. a follower bus hiccup on a loaded machine)."""
    async with TeleopClient(url, name="test-reset") as client:
        if client.welcome is not None and client.welcome.estop:
            await client.request_lease()
            await client.reset_estop()
            await client.release_lease()


def follower_q(client: TeleopClient) -> np.ndarray:
    assert client.state is not None
    return np.array(client.state.q)


async def settled(client: TeleopClient) -> np.ndarray:
    """The follower's q once it has come to rest (the last test may have moved it)."""
    state = await client.wait_state(lambda s: max(map(abs, s.dq)) < 0.01, timeout_s=10.0)
    await asyncio.sleep(200 * MS)
    return (
        follower_q(client) if within(follower_q(client), state.q, 1e-3) else await settled(client)
    )


def within(a: ArrayLike, b: ArrayLike, tol: float) -> bool:
    return bool(np.max(np.abs(np.asarray(a) - np.asarray(b))) <= tol)


def moved(q: Mapping[int, float], base: np.ndarray) -> np.ndarray:
    """``base`` with entries ``q`` (index -> value) replaced."""
    out = np.array(base, dtype=np.float64)
    for k, v in q.items():
        out[k] = v
    return out


class Proxy:
    """A TCP relay to ``127.0.0.1:upstream`` whose connections a test can cut."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = 0
        self._transports: set[asyncio.WriteTransport] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        """Drop every relayed connection at once, as a dead network link would."""
        for transport in self._transports:
            transport.abort()
        self._transports.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._transports |= {writer.transport, up_writer.transport}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test scenario in a fresh event loop."""
    return asyncio.run(coro)
