"""The websocket server on loopback: bad input, lease, watchdog, e-stop, security."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import msgpack
import numpy as np
import pytest
import websockets
from serverkit import moves, raw, serving
from timing import MS

import robots
from robots.fake import FakeRobot
from teleop.client import ClientError, TeleopClient


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def held_position(robot: FakeRobot) -> tuple[int, np.ndarray]:
    """Wait for the loop to be holding; return (index into robot.sent, held target)."""
    await asyncio.sleep(200 * MS)
    return len(robot.sent), robot.sent[-1][1].copy()


def joints(q: np.ndarray, seq: int) -> dict[str, object]:
    return {"type": "command", "seq": seq, "mode": "joints", "q": q.tolist()}


# -- bad input: each gets its error code, and nothing reaches the robot ---------------------

BAD_MESSAGES: list[tuple[str, object, str]] = [
    ("malformed msgpack", b"\xc1\xff\x00", "bad_encoding"),
    ("malformed json", '{"type": "command", ', "bad_encoding"),
    ("not a map", msgpack.packb([1, 2, 3]), "bad_encoding"),
    ("missing type", {"seq": 1, "q": [0.0] * 6}, "missing_type"),
    ("unknown type", {"type": "teleport", "where": "moon"}, "unknown_type"),
    (
        "wrong field type",
        {"type": "command", "seq": "one", "mode": "joints", "q": [0] * 6},
        "bad_field",
    ),
    (
        "nan in msgpack",
        {"type": "command", "seq": 1, "mode": "joints", "q": [float("nan")] * 6},
        "not_finite",
    ),
    ("NaN in json", '{"type":"command","seq":1,"mode":"joints","q":[NaN,0,0,0,0,0]}', "not_finite"),
    (
        "Infinity in json",
        '{"type":"command","seq":1,"mode":"joints","q":[Infinity,0,0,0,0,0]}',
        "not_finite",
    ),
    (
        "1e400 in json",
        '{"type":"command","seq":1,"mode":"joints","q":[1e400,0,0,0,0,0]}',
        "not_finite",
    ),
    (
        "huge int in msgpack",
        {"type": "command", "seq": 2**64 - 1, "mode": "joints", "q": [0.0] * 6},
        "not_finite",
    ),
    (
        "huge int in json",
        '{"type":"command","seq":1,"mode":"joints","q":[1234567890123456789012345678901234567890,0,0,0,0,0]}',
        "not_finite",
    ),
    (
        "wrong vector length",
        {"type": "command", "seq": 1, "mode": "joints", "q": [0.1] * 4},
        "bad_shape",
    ),
    (
        "velocity wrong length",
        {
            "type": "command",
            "seq": 1,
            "mode": "ee_velocity",
            "linear": [0.1],
            "angular": [0, 0, 0],
            "gripper": 1,
            "deadman": True,
        },
        "bad_shape",
    ),
]


@pytest.mark.parametrize("name, message, code", BAD_MESSAGES, ids=[b[0] for b in BAD_MESSAGES])
def test_bad_message_gets_error_code_and_arm_does_not_move(
    name: str, message: object, code: str
) -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url), raw(url) as c:
            await c.hello()
            since, hold = await held_position(robot)
            await c.send(message)  # type: ignore[arg-type]
            error = await c.expect("error")
            assert error["code"] == code, error
            assert error["message"]
            await asyncio.sleep(200 * MS)
            assert moves(robot, since, hold) == 0.0
            await c.send({"type": "ping", "t_client_ns": 1})  # the connection survives
            await c.expect("pong")

    run(scenario())


def test_seq_that_does_not_increase_is_dropped() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url), raw(url) as c:
            await c.hello()
            since, hold = await held_position(robot)
            step = hold.copy()
            step[0] += 0.05
            await c.send(joints(step, 5))
            await c.expect("state", seq=5)
            back = hold.copy()
            back[0] -= 0.2
            await c.send(joints(back, 5))
            error = await c.expect("error")
            assert error["code"] == "stale_seq"
            await asyncio.sleep(200 * MS)
            assert min(q[0] for _, q in robot.sent[since:]) >= hold[0] - 1e-9

    run(scenario())


def test_command_without_lease_and_observer_command_are_refused() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url), raw(url) as op, raw(url) as obs:
            await op.hello(lease=False)
            await obs.hello(role="observer", lease=False)
            since, hold = await held_position(robot)
            target = hold.copy()
            target[1] += 0.3
            await op.send(joints(target, 1))
            assert (await op.expect("error"))["code"] == "no_lease"
            await obs.send(joints(target, 1))
            assert (await obs.expect("error"))["code"] == "forbidden_role"
            await obs.send({"type": "record", "action": "start", "task": "x"})
            assert (await obs.expect("error"))["code"] == "forbidden_role"
            await asyncio.sleep(200 * MS)
            assert moves(robot, since, hold) == 0.0

    run(scenario())


def test_oversized_message_closes_with_1009() -> None:
    async def scenario() -> None:
        async with serving() as (_, url), raw(url) as c:
            await c.hello()
            await c.send(b"\x00" * (65 * 1024))
            with pytest.raises(websockets.ConnectionClosed) as info:
                await c.recv()
                await c.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009

    run(scenario())


def test_flood_gets_rate_limited_then_disconnected() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (server, url), raw(url) as c:
            await c.hello()
            since, hold = await held_position(robot)
            codes: list[str] = []

            async def read_all() -> None:
                while True:
                    msg = await c.recv(timeout_s=30)
                    if msg["type"] == "error":
                        codes.append(msg["code"])

            reader = asyncio.create_task(read_all())
            with pytest.raises(websockets.ConnectionClosed) as closed:
                for k in range(1, 20000):  # valid commands, but far too many
                    await asyncio.wait_for(c.send(joints(hold, k)), 10)
                    if k % 100 == 0:
                        await asyncio.sleep(0.001)
                await asyncio.wait_for(reader, 30)
            reader.cancel()
            assert "rate_limited" in codes
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert moves(robot, since, hold) == 0.0
            assert server.loop.thread_alive()

    run(scenario())


# -- lease, watchdog, e-stop ------------------------------------------------------------------


def test_second_operator_is_refused_and_told_who_holds_the_lease() -> None:
    async def scenario() -> None:
        async with serving() as (_, url):
            async with (
                TeleopClient(url, name="alice") as alice,
                TeleopClient(url, name="bob") as bob,
            ):
                await alice.request_lease()
                with pytest.raises(ClientError, match="alice") as info:
                    await bob.request_lease()
                assert info.value.code == "lease_held"
                await alice.close()
                await asyncio.sleep(300 * MS)
                status = await bob.request_lease()  # released on disconnect
                assert status.granted

    run(scenario())


def test_admin_token_takes_the_lease_over() -> None:
    async def scenario() -> None:
        async with serving(token="op-secret", admin_token="admin-secret") as (_, url):
            async with (
                TeleopClient(url, token="op-secret", name="op") as op,
                TeleopClient(url, token="admin-secret", name="admin") as admin,
            ):
                await op.request_lease()
                status = await admin.request_lease(force=True)
                assert status.granted
                await asyncio.sleep(200 * MS)
                assert op.lease is not None and not op.lease.granted

    run(scenario())


def test_watchdog_holds_when_commands_stop() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot, control=_control(rate_hz=200)) as (_, url):
            async with TeleopClient(url) as op:
                await op.request_lease()
                start = (await op.wait_state(lambda s: True)).q
                # Stream a slow ramp, then go silent while the socket stays open.
                for k in range(40):
                    q = np.array(start)
                    q[0] += 0.01 * k
                    await op.send_joints(q)
                    await asyncio.sleep(0.01)
                silent_at = len(robot.sent)
                await asyncio.sleep(600 * MS)
                after = [q[0] for _, q in robot.sent[silent_at:]]
                # Within 150 ms the target stops advancing, then it stays put.
                final = after[-1]
                settle_ticks = int(0.15 * 200) + 5
                assert all(abs(v - final) < 1e-9 for v in after[settle_ticks:])
                state = await op.wait_state(lambda s: s.safety["watchdog_holds"] >= 1)
                assert state.safety["watchdog_holds"] >= 1

    run(scenario())


def test_estop_latches_until_holder_resets_and_reconnect_does_not_rearm() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        async with serving(robot) as (_, url):
            async with (
                TeleopClient(url, name="op") as op,
                TeleopClient(url, role="observer") as obs,
            ):
                await op.request_lease()
                hold = np.array((await op.wait_state(lambda s: True)).q)
                await obs.estop()  # anyone may trigger
                await op.wait_state(lambda s: s.estop)
                since = len(robot.sent)
                target = hold.copy()
                target[0] += 0.3
                for _ in range(20):
                    await op.send_joints(target)
                    await asyncio.sleep(0.01)
                assert moves(robot, since, hold) < 1e-9
                with pytest.raises(ClientError):
                    await obs.reset_estop()
            # The operator reconnects: the latch is still on.
            async with TeleopClient(url, name="op") as op:
                assert op.welcome is not None and op.welcome.estop
                await op.request_lease()
                for _ in range(10):
                    await op.send_joints(target)
                    await asyncio.sleep(0.01)
                assert moves(robot, since, hold) < 1e-9
                await op.reset_estop()
                for _ in range(60):
                    await op.send_joints(target)
                    await asyncio.sleep(0.01)
                state = await op.wait_state(lambda s: abs(s.q[0] - target[0]) < 0.05, 3.0)
                assert not state.estop

    run(scenario())


def test_stalled_observer_does_not_slow_the_operator() -> None:
    """An observer that never reads loses frames and states; the loop keeps its rate."""

    async def overrun_fraction(stalled_observer: bool) -> float:
        robot = FakeRobot()
        async with serving(robot, control=_control(rate_hz=200)) as (server, url):
            async with raw(url, max_queue=1) as stalled:
                if stalled_observer:
                    await stalled.hello(role="observer", lease=False)
                    stalled.ws.transport.pause_reading()  # never reads again
                async with TeleopClient(url) as op:
                    await op.request_lease()
                    q = np.array((await op.wait_state(lambda s: True)).q)
                    ticks0, over0 = server.loop.stats.ticks, server.loop.stats.overruns
                    for _ in range(200):
                        seq = await op.send_joints(q)
                        await asyncio.sleep(0.01)
                    await op.wait_state(lambda s: s.seq == seq)
                    ticks = server.loop.stats.ticks - ticks0
                    assert ticks > 300
                    assert len(server.outboxes) == 2  # the silent one is still connected
                    return (server.loop.stats.overruns - over0) / ticks

    baseline = run(overrun_fraction(False))
    stalled = run(overrun_fraction(True))
    assert stalled <= baseline + 0.05, (
        f"overruns {stalled:.1%} with a stalled observer, {baseline:.1%} without"
    )


# -- handshake security -------------------------------------------------------------------------


def test_missing_or_wrong_token_gets_401_before_upgrade() -> None:
    async def scenario() -> None:
        async with serving(token="s3cret") as (_, url):
            for headers in (None, {"Authorization": "Bearer wrong"}):
                with pytest.raises(websockets.InvalidStatus) as info:
                    async with websockets.connect(url, additional_headers=headers):
                        pass
                assert info.value.response.status_code == 401
            async with websockets.connect(url + "/?token=s3cret"):
                pass
            with pytest.raises(ClientError, match="401"):
                await TeleopClient(url, token="nope").connect()

    run(scenario())


def test_foreign_origin_gets_403_and_localhost_origin_is_allowed() -> None:
    async def scenario() -> None:
        async with serving(allow_origins=("https://ops.example",)) as (_, url):
            with pytest.raises(websockets.InvalidStatus) as info:
                async with websockets.connect(url, origin="https://evil.example"):  # type: ignore[arg-type]
                    pass
            assert info.value.response.status_code == 403
            for ok in ("http://localhost:8765", "https://ops.example"):
                async with websockets.connect(url, origin=ok):  # type: ignore[arg-type]
                    pass

    run(scenario())


def test_http_serves_the_browser_ui_on_the_same_port() -> None:
    async def scenario() -> None:
        async with serving() as (server, _):
            base = f"http://127.0.0.1:{server.port}"
            loop = asyncio.get_running_loop()
            page = await loop.run_in_executor(None, _get, base + "/")
            assert b"<html" in page.lower()
            with pytest.raises(urllib.error.HTTPError) as info:
                await loop.run_in_executor(None, _get, base + "/../pyproject.toml")
            assert info.value.code == 404

    run(scenario())


# -- end to end with the sim arm --------------------------------------------------------------


def test_sim_arm_follows_operator_and_observer_sees_state_and_frames() -> None:
    async def scenario() -> None:
        arm = robots.make_robot("sim")
        async with serving(arm) as (_, url):
            async with (
                TeleopClient(url, name="op") as op,
                TeleopClient(url, role="observer") as obs,
            ):
                await op.request_lease()
                q = np.array((await op.wait_state(lambda s: True)).q)
                target = q.copy()
                target[0] += 0.4
                deadline = time.monotonic() + 5000 * MS
                while time.monotonic() < deadline:
                    await op.send_joints(target)
                    await asyncio.sleep(0.01)
                    if op.state is not None and abs(op.state.q[0] - target[0]) < 0.02:
                        break
                seen = await obs.wait_state(lambda s: abs(s.q[0] - target[0]) < 0.03, 3.0)
                assert seen.loop.rate_hz > 50
                frames = {}
                async for frame in obs.frames_stream():
                    frames[frame.camera] = frame
                    if len(frames) == 2:
                        break
                assert set(frames) == {"front", "wrist"}
                assert frames["front"].data[:2] == b"\xff\xd8"  # JPEG

    run(asyncio.wait_for(scenario(), 60))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def _control(**kwargs: object):  # type: ignore[no-untyped-def]
    from teleop.control import ControlConfig

    return ControlConfig(**kwargs)  # type: ignore[arg-type]


def test_json_clients_get_json_replies() -> None:
    async def scenario() -> None:
        async with serving() as (_, url), raw(url) as c:
            await c.send(json.dumps({"type": "hello", "role": "observer"}))
            data = await asyncio.wait_for(c.ws.recv(), 3)
            assert isinstance(data, str) and json.loads(data)["type"] == "welcome"

    run(scenario())


def test_a_leaving_holder_leaves_no_activity_meter_behind() -> None:
    """Each lease holder gets an activity meter for the ledger; it goes when they leave."""

    async def body() -> None:
        async with serving(state_rate_hz=100.0) as (server, url):
            for k in range(5):
                async with TeleopClient(url, name=f"op{k}") as op:
                    await op.request_lease()
                    await op.wait_state(lambda s: True)
                    await asyncio.sleep(50 * MS)  # a few states metered under this holder
                    assert server.activity, "the holder is metered"
            deadline = time.monotonic() + 5000 * MS
            while server.activity and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert server.activity == {}

    run(body())
