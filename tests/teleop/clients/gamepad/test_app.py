"""The gamepad app end to end: a real loopback server, the fake arm, injected pad events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from serverkit import moves, serving
from timing import MS, SCALE

from robots.fake import FakeRobot
from teleop.client import ClientError, TeleopClient
from teleop.clients.gamepad.app import GamepadApp
from teleop.clients.gamepad.config import AppConfig
from teleop.clients.gamepad.device import Pad
from teleop.clients.gamepad.gate import Drive
from teleop.clients.gamepad.status import Link, Status, format_status

LB, A, BACK, START = 4, 0, 6, 7  # Xbox layout
LEFT_Y, RT = 1, 5


async def until(condition: Callable[[], bool], timeout_s: float = 5.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s * SCALE
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


def config(url: str, **kwargs: Any) -> AppConfig:
    return AppConfig(url=url, name="pad-test", backoff_initial_s=0.1, backoff_max_s=0.2, **kwargs)


@asynccontextmanager
async def running(app: GamepadApp) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(app.run())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def hold_target(robot: FakeRobot) -> tuple[int, np.ndarray]:
    return len(robot.sent), robot.sent[-1][1].copy()


async def still(robot: FakeRobot, seconds: float) -> float:
    """How far the arm's targets move over ``seconds`` from where they are now."""
    since, hold = hold_target(robot)
    await asyncio.sleep(seconds * SCALE)
    return moves(robot, since, hold)


def test_drive_unplug_replug_and_reconnect(driver: Any, pad: Pad) -> None:
    """Deadman + stick moves the arm; unplugging or a dropped connection stops it for good."""

    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (server, url), TeleopClient(url, role="observer") as watch:
            app = GamepadApp(config(url), pad)
            async with running(app):
                stick = driver.joystick()
                driver.plug(stick)
                await until(lambda: app.connections == 1 and app.status.pad is not None)

                # Hold the deadman, push forward and squeeze the trigger: the arm moves,
                # the gripper closes on the fake object and the pad rumbles.
                since, hold = hold_target(robot)
                driver.press(stick, LB)
                driver.axis(stick, LEFT_Y, -1.0)
                driver.axis(stick, RT, 1.0)
                await until(lambda: moves(robot, since, hold) > 0.02, what="the arm to move")
                assert app.status.drive is Drive.DRIVING
                await until(lambda: stick.rumbles != [], what="rumble from the grasp force")
                assert 0.0 < stick.rumbles[-1][0] <= 0.8

                # Unplug: no command after that; the watchdog (150 ms) stops the arm,
                # which glides to rest (velocity decay, 50 ms time constant).
                driver.unplug(stick)
                await until(lambda: app.status.pad is None)
                await asyncio.sleep(100 * MS)  # commands already on the wire land
                assert watch.state is not None
                seq = watch.state.seq
                await asyncio.sleep(500 * MS)
                assert await still(robot, 0.4) == 0.0
                assert watch.state.seq == seq
                assert watch.state.safety["watchdog_holds"] >= 1
                assert "none" in format_status(app.status)

                # Plug it back in with the deadman and stick still held: nothing moves
                # until the deadman is released and pressed again.
                driver.plug(stick)
                await until(lambda: app.status.pad is not None)
                assert await still(robot, 0.3) == 0.0
                assert app.status.drive is Drive.LOCKED
                since, hold = hold_target(robot)
                driver.release(stick, LB)
                await asyncio.sleep(50 * MS)
                driver.press(stick, LB)
                await until(lambda: moves(robot, since, hold) > 0.02, what="moving again")

                # Drop the connection from the server's side while driving.
                assert app.client is not None
                server.outboxes[app.client.client_id].ws.transport.abort()
                await until(lambda: app.status.link is Link.RETRYING, what="the drop")
                assert "disconnected, retrying in" in format_status(app.status)
                await until(lambda: app.connections == 2, what="reconnection")
                # Reconnected with the deadman still held: no stale command; once the
                # glide from the drop has ended, no motion at all.
                seq = watch.state.seq
                await asyncio.sleep(500 * MS)
                assert await still(robot, 0.4) == 0.0
                assert watch.state.seq == seq
                assert app.status.drive is Drive.LOCKED and app.status.lease
                since, hold = hold_target(robot)
                driver.release(stick, LB)
                await asyncio.sleep(50 * MS)
                driver.press(stick, LB)
                await until(lambda: moves(robot, since, hold) > 0.02, what="moving after reconnect")

    asyncio.run(scenario())


def test_releasing_the_deadman_sends_one_stop_and_then_nothing(driver: Any, pad: Pad) -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url), TeleopClient(url, role="observer") as watch:
            app = GamepadApp(config(url), pad)
            async with running(app):
                stick = driver.joystick()
                driver.plug(stick)
                await until(lambda: app.connections == 1 and app.status.pad is not None)
                driver.press(stick, LB)
                driver.axis(stick, LEFT_Y, -1.0)
                await until(lambda: app.status.drive is Drive.DRIVING)
                await asyncio.sleep(0.2)
                driver.release(stick, LB)
                await until(lambda: app.status.drive is Drive.IDLE)
                await asyncio.sleep(100 * MS)
                assert watch.state is not None
                seq = watch.state.seq
                assert await still(robot, 0.3) < 1e-6  # deadman false holds at once
                assert watch.state.seq == seq

    asyncio.run(scenario())


def test_estop_button_latches_and_the_combo_resets(driver: Any, pad: Pad) -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url), TeleopClient(url, role="observer") as watch:
            app = GamepadApp(config(url, task="stack the cubes"), pad)
            async with running(app):
                stick = driver.joystick()
                driver.plug(stick)
                await until(lambda: app.connections == 1 and app.status.pad is not None)
                driver.press(stick, LB)
                driver.axis(stick, LEFT_Y, -1.0)
                await until(lambda: app.status.drive is Drive.DRIVING)
                driver.press(stick, BACK)
                await watch.wait_state(lambda s: s.estop, timeout_s=3.0)
                await until(lambda: app.status.estop and app.status.drive is Drive.LOCKED)
                assert await still(robot, 0.3) == 0.0
                # Start alone does nothing; with the deadman held it resets.
                driver.release(stick, LB)
                driver.press(stick, START)
                await asyncio.sleep(200 * MS)
                assert watch.state is not None and watch.state.estop
                driver.release(stick, START)
                driver.press(stick, LB)
                driver.press(stick, START)
                await watch.wait_state(lambda s: not s.estop, timeout_s=3.0)
                await until(lambda: "e-stop reset" in app.status.note)
                # This server records nothing: the refusal shows, the app carries on.
                driver.press(stick, A)
                await until(lambda: "without a recorder" in app.status.note)
                assert app.connections == 1

    asyncio.run(scenario())


def test_wrong_token_ends_with_unauthorized(pad: Pad) -> None:
    async def scenario() -> None:
        async with serving(token="right") as (_, url):
            app = GamepadApp(config(url, token="wrong"), pad)
            with pytest.raises(ClientError) as info:
                await asyncio.wait_for(app.run(), 5.0)
            assert info.value.code == "unauthorized"
            assert "HTTP 401" in info.value.message

    asyncio.run(scenario())


def test_no_server_shows_disconnected_retrying(pad: Pad) -> None:
    seen: list[Status] = []

    async def scenario() -> None:
        app = GamepadApp(config("ws://127.0.0.1:9"), pad, on_status=seen.append)
        async with running(app):
            await until(lambda: any(s.link is Link.RETRYING for s in seen))
            await asyncio.sleep(500 * MS)
        assert app.connections == 0

    asyncio.run(scenario())
    line = format_status(next(s for s in seen if s.link is Link.RETRYING))
    assert line.startswith("disconnected, retrying in ")
    assert "cannot connect" in line
