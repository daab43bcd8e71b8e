"""``teleop bench relay``: what the server adds between an operator and the robot.

The server runs in its own process with the sim arm and its two cameras, as ``teleop
serve`` does, with 4 observers attached (from one more process: they stand for other
clients). The operator streams joint commands at 100 Hz and times each one until a
``state`` carries its ``seq`` back. The floor is a plain websockets echo server, also in
its own process, timed the same way.

One more run at 200 Hz has the sim arm without cameras, to compare with the run with
them on the same machine.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import multiprocessing.connection
import time
from typing import Any

import msgpack
import websockets

from teleop.bench.report import Figure, percentiles_us

RATES_HZ = (100.0, 200.0, 500.0)
OBSERVERS = 4
COMMAND_HZ = 100.0


def _echo_server(conn: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        async def echo(ws: Any) -> None:
            async for message in ws:
                await ws.send(message)

        async with websockets.serve(echo, "127.0.0.1", 0, compression=None) as server:
            conn.send(server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    asyncio.run(main())


def _teleop_server(
    conn: multiprocessing.connection.Connection, rate_hz: float, cameras: bool
) -> None:
    import robots
    from teleop.cli.serve import serving_process
    from teleop.control import ControlConfig
    from teleop.server import ServerConfig, TeleopServer

    async def main(arm: robots.Robot) -> None:
        server = TeleopServer(arm, ServerConfig(port=0, control=ControlConfig(rate_hz=rate_hz)))
        with serving_process():  # as `teleop serve` runs
            async with server:
                conn.send(server.port)
                await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "report"
                stats = server.loop.stats
                conn.send(
                    {
                        "latency_ns": list(server.loop.latency_ns),
                        "ticks": stats.ticks,
                        "overruns": stats.overruns,
                    }
                )
                await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"

    with robots.make_robot("sim", **({} if cameras else {"cameras": ()})) as arm:
        for camera in arm.cameras.values():
            camera.wait_newer(-1, timeout_s=30.0)
        asyncio.run(main(arm))


async def _echo_rtts(url: str, seconds: float) -> list[int]:
    payload = msgpack.packb(
        {"type": "command", "seq": 1, "mode": "joints", "q": [0.1] * 6, "t_client_ns": 1}
    )
    rtts = []
    async with websockets.connect(url, compression=None) as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.monotonic_ns()
            await ws.send(payload)
            await ws.recv()
            rtts.append(time.monotonic_ns() - start)
            await asyncio.sleep(1.0 / COMMAND_HZ)
    return rtts


def _observers(conn: multiprocessing.connection.Connection, url: str) -> None:
    """Keep ``OBSERVERS`` observers connected (reading every state and frame) until told."""
    from teleop.client import TeleopClient

    async def main() -> None:
        observers = [TeleopClient(url, role="observer") for _ in range(OBSERVERS)]
        for observer in observers:
            await observer.connect()
        conn.send("connected")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        for observer in observers:
            await observer.close()

    asyncio.run(main())


async def _operator_rtts(url: str, seconds: float) -> list[int]:
    from teleop.client import TeleopClient

    # The observers are other clients (other machines, in use): their own process, so
    # the operator's round trip does not include their message handling.
    process, conn = _in_process(_observers, url)
    conn.recv()  # "connected"
    rtts = []
    try:
        async with TeleopClient(url, name="bench") as op:
            await op.request_lease()
            q = list((await op.wait_state(lambda s: True)).q)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                start = time.monotonic_ns()
                seq = await op.send_joints(q)
                await op.wait_state(lambda s, seq=seq: s.seq is not None and s.seq >= seq)
                rtts.append(time.monotonic_ns() - start)
                await asyncio.sleep(1.0 / COMMAND_HZ)
    finally:
        conn.send("stop")
        process.join(timeout=10.0)
    return rtts


def _in_process(target: Any, *args: Any) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    # Not a daemon: the sim arm starts its own render process.
    process = ctx.Process(target=target, args=(theirs, *args), daemon=False)
    process.start()
    if not ours.poll(60.0):
        process.kill()
        raise RuntimeError(f"{target.__name__} did not start within 60 s")
    return process, ours


def _echo_floor(seconds: float) -> list[int]:
    process, conn = _in_process(_echo_server)
    try:
        return asyncio.run(_echo_rtts(f"ws://127.0.0.1:{conn.recv()}", seconds))
    finally:
        conn.send("stop")
        process.join(timeout=5.0)


def _relay_at(
    rate_hz: float, seconds: float, cameras: bool = True
) -> tuple[list[int], dict[str, Any]]:
    process, conn = _in_process(_teleop_server, rate_hz, cameras)
    try:
        rtts = asyncio.run(_operator_rtts(f"ws://127.0.0.1:{conn.recv()}", seconds))
        conn.send("report")
        return rtts, conn.recv()
    finally:
        conn.send("stop")
        process.join(timeout=10.0)
        if process.is_alive():
            process.kill()


def run_relay_bench(seconds: float = 10.0) -> list[Figure]:
    """Every relay figure, the echo floor first."""
    floor = _echo_floor(seconds)
    floor_p50, floor_p99, _ = percentiles_us(floor)
    figures = [
        Figure(
            "relay",
            "websockets echo round trip p50 / p99 (floor)",
            f"{floor_p50:.0f} / {floor_p99:.0f}",
            "µs",
        ),
    ]
    for rate in RATES_HZ:
        rtts, report = _relay_at(rate, seconds)
        rtt50, rtt99, _ = percentiles_us(rtts)
        bound_us = 2 * floor_p50 + 1e6 / rate
        overrun = report["overruns"] / max(1, report["ticks"])
        label = f"{rate:.0f} Hz, {OBSERVERS} observers"
        figures += [
            _server_added(label, report),
            Figure(
                "relay",
                f"command→state round trip p50 / p99, {label}",
                f"{rtt50:.0f} / {rtt99:.0f}",
                "µs",
                "2 × echo p50 + 1 period",
                bound_us,
            ),
            Figure("relay", f"tick overruns, {label}", 100 * overrun, "%", "target at 200 Hz", 0.5),
        ]
    _, report = _relay_at(200.0, seconds, cameras=False)
    figures.append(_server_added(f"200 Hz, {OBSERVERS} observers, sim without cameras", report))
    return figures


def _server_added(label: str, report: dict[str, Any]) -> Figure:
    p50, p99, worst = percentiles_us(report["latency_ns"])
    return Figure(
        "relay",
        f"server-added latency p50 / p99 / max, {label}",
        f"{p50:.0f} / {p99:.0f} / {worst:.0f}",
        "µs",
        "target p99",
        1000.0,
    )
