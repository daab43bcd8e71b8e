"""A real loopback server on port 0 around a fake robot, and raw-socket helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import numpy as np
import websockets
from timing import SCALE

import robots
from robots.fake import FakeRobot
from teleop.server import GateConfig, ServerConfig, TeleopServer


@contextlib.asynccontextmanager
async def serving(
    robot: robots.Robot | None = None, **config: Any
) -> AsyncIterator[tuple[TeleopServer, str]]:
    """A started server on a free port, and its ws:// URL; the robot is connected here."""
    arm = robot or FakeRobot(cameras=())
    gate = GateConfig(
        token=config.pop("token", None),
        admin_token=config.pop("admin_token", None),
        allow_origins=config.pop("allow_origins", ()),
    )
    with arm:
        async with TeleopServer(arm, ServerConfig(port=0, gate=gate, **config)) as server:
            yield server, f"ws://127.0.0.1:{server.port}"


class Raw:
    """A bare websocket client that sends exactly the bytes a test gives it."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any] | bytes | str) -> None:
        if isinstance(message, dict):
            message = msgpack.packb(message)
        await self.ws.send(message)

    async def recv(self, timeout_s: float = 3.0) -> dict[str, Any]:
        data = await asyncio.wait_for(self.ws.recv(), timeout_s * SCALE)
        return json.loads(data) if isinstance(data, str) else msgpack.unpackb(data)

    async def expect(self, type_: str, timeout_s: float = 3.0, **fields: Any) -> dict[str, Any]:
        """Skip other messages until one of ``type_`` (with ``fields``) arrives."""
        deadline = asyncio.get_running_loop().time() + timeout_s * SCALE
        while True:
            left = deadline - asyncio.get_running_loop().time()
            msg = await self.recv(max(left, 0.01))
            if msg.get("type") == type_ and all(msg.get(k) == v for k, v in fields.items()):
                return msg

    async def hello(self, role: str = "operator", lease: bool = True) -> dict[str, Any]:
        await self.send({"type": "hello", "role": role, "name": f"raw-{role}"})
        welcome = await self.expect("welcome")
        if lease:
            await self.send({"type": "lease", "action": "request"})
            await self.expect("lease", granted=True)
        return welcome


@contextlib.asynccontextmanager
async def raw(url: str, **kwargs: Any) -> AsyncIterator[Raw]:
    async with websockets.connect(url, compression=None, **kwargs) as ws:
        yield Raw(ws)


def moves(robot: FakeRobot, since: int, hold: np.ndarray) -> float:
    """Largest distance from ``hold`` of any target sent after index ``since``."""
    sent = [q for _, q in robot.sent[since:]]
    return float(max((np.max(np.abs(q - hold)) for q in sent), default=0.0))
