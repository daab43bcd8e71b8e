"""``teleop bench soak --minutes N``: a long sim session under realistic load.

A ``teleop serve`` process drives the sim arm at 200 Hz and records back-to-back
episodes while an operator streams joint commands and 4 observers watch, each observer
reconnecting every 30 s. Each minute the server's RSS and tick overruns are sampled;
at the end the dataset's own metadata gives the frames repeated and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from teleop.bench.report import Figure
from teleop.client import TeleopClient

RATE_HZ = 200
OBSERVERS = 4
RECONNECT_S = 30.0
EPISODE_S = 20.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start_server(record_dir: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "teleop.cli", "serve", "--port", "0", "--rate", str(RATE_HZ),
         "--record-dir", str(record_dir), "--dataset", "soak"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    for line in server.stdout:
        if match := re.search(r"serving on http://(\S+?)/?$", line.strip()):
            return server, f"ws://{match.group(1)}"
    raise RuntimeError("teleop serve exited before serving")


async def _observer(url: str, stop: asyncio.Event) -> int:
    """Watch, reconnecting every RECONNECT_S; return how many connections it made."""
    connections = 0
    while not stop.is_set():
        async with TeleopClient(url, role="observer", name="soak-observer") as client:
            connections += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECONNECT_S)
            client.frames.clear()
    return connections


async def _operator(url: str, stop: asyncio.Event, episodes: list[float]) -> None:
    """Stream a slow sine on two joints at 100 Hz; record EPISODE_S episodes back to back."""
    async with TeleopClient(url, name="soak-operator") as op:
        await op.request_lease()
        home = np.array((await op.wait_state(lambda s: True)).q)
        t0 = time.monotonic()
        while not stop.is_set():
            await op.record_start("soak: wave the arm")
            started = time.monotonic()
            while time.monotonic() - started < EPISODE_S and not stop.is_set():
                q = home.copy()
                q[0] += 0.4 * np.sin(0.5 * (time.monotonic() - t0))
                q[1] += 0.2 * np.sin(0.3 * (time.monotonic() - t0))
                await op.send_joints(q)
                await asyncio.sleep(0.01)
            await op.record_stop(True)
            episodes.append(time.monotonic() - started)


async def _drive(url: str, pid: int, minutes: float) -> tuple[list[float], list[int], int]:
    stop = asyncio.Event()
    episodes: list[float] = []
    tasks: list[asyncio.Task[Any]] = [
        asyncio.create_task(_observer(url, stop)) for _ in range(OBSERVERS)
    ]
    tasks.append(asyncio.create_task(_operator(url, stop, episodes)))
    rss, overruns = [_rss_mib(pid)], []
    async with TeleopClient(url, role="observer", name="soak-probe") as probe:
        for _ in range(max(1, round(minutes))):
            await asyncio.sleep(60.0 * minutes / max(1, round(minutes)))
            rss.append(_rss_mib(pid))
            state = probe.state
            overruns.append(state.loop.overruns if state is not None else 0)
    stop.set()
    results = await asyncio.gather(*tasks)
    connections = sum(r for r in results if isinstance(r, int))
    return rss, overruns, connections


def _frame_counts(dataset: Path) -> tuple[int, int, int]:
    """Rows, repeated frames and dropped frames over all episodes of the dataset."""
    table = pq.read_table(dataset / "meta" / "episodes").to_pydict()
    rows = int(sum(table["length"]))
    repeats = sum(int(sum(v)) for k, v in table.items() if k.startswith("station/frame_repeats."))
    drops = sum(int(sum(v)) for k, v in table.items() if k.startswith("station/frame_drops."))
    return rows, repeats, drops


def run_soak_bench(minutes: float = 1.0) -> list[Figure]:
    """The soak's figures, per minute."""
    with tempfile.TemporaryDirectory(prefix="teleop-soak-") as tmp:
        server, url = _start_server(Path(tmp))
        try:
            rss, overruns, connections = asyncio.run(_drive(url, server.pid, minutes))
        finally:
            server.terminate()
            server.wait(timeout=30)
        rows, repeats, drops = _frame_counts(Path(tmp) / "soak")
    per_min = 1.0 / minutes
    ticks = RATE_HZ * 60 * minutes
    return [
        Figure(
            "soak",
            f"server RSS start → end, {minutes:g} min",
            f"{rss[0]:.0f} → {rss[-1]:.0f}",
            "MiB",
            "growth per minute",
            (rss[-1] - rss[0]) * per_min,
        ),
        _late_growth(rss, minutes),
        Figure(
            "soak",
            "tick overruns per minute",
            overruns[-1] * per_min,
            "ticks",
            f"ticks per minute at {RATE_HZ} Hz",
            RATE_HZ * 60,
        ),
        Figure("soak", "overrun fraction", 100 * overruns[-1] / ticks, "%", "target", 0.5),
        Figure(
            "soak",
            "recorded rows, frames repeated / dropped per minute",
            f"{rows} rows, {repeats * per_min:.0f} / {drops * per_min:.0f}",
            "",
            "rows per minute at 30 fps",
            1800,
        ),
        Figure(
            "soak",
            "observer connections made (reconnect every 30 s)",
            connections,
            "",
            "observers",
            OBSERVERS,
        ),
    ]


def _late_growth(rss: list[float], minutes: float) -> Figure:
    """RSS growth per minute over the run's second half, beside its first half's: a leak
    keeps its pace, a warm-up (caches, allocator pools) slows down."""
    n = len(rss) - 1  # samples are evenly spaced over the run
    half = n // 2
    minutes_per_sample = minutes / n

    def rate(a: int, b: int) -> float:
        return (rss[b] - rss[a]) / ((b - a) * minutes_per_sample)

    return Figure(
        "soak",
        "server RSS growth per minute, second half of the run",
        rate(half, n),
        "MiB",
        "first half",
        rate(0, half) if half else None,  # a one-sample run has no first half
    )
