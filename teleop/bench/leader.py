"""``teleop bench`` leader figures: the leader -> follower relay loop, end to end.

Two emulated 6-servo arms at 1,000,000 baud, each in its own process (a bus is another
device): the follower behind ``teleop serve --robot so101`` (a subprocess, as a station
runs it), the leader read by :class:`teleop.clients.leader.app.LeaderApp` in this
process while a scripted hand sweeps three of its joints. Measured once the leader
follows: the loop's achieved rate, its tick intervals and its overruns (ticks whose
read + map + send ended after the next deadline, plus ticks skipped), against the 100 Hz,
<= 1 % target. The reference, measured in the same run: the leader emulator's bare sync
read of the six positions, back to back, which bounds what any relay could do.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from robots.serial.bus import BusStats
from robots.serial.calibration import RAD_PER_TICK, Calibration, JointCalibration
from robots.serial.so101 import JOINT_NAMES
from teleop.bench.report import Figure, percentiles_us
from teleop.client import TeleopClient
from teleop.clients.leader.app import LeaderApp
from teleop.clients.leader.arm import LeaderArm
from teleop.clients.leader.config import LeaderConfig
from teleop.clients.leader.engage import Phase
from teleop.clients.leader.hand import EmulatedArm, emulated_arm

BAUD = 1_000_000
RATE_HZ = 100.0
START = {1: 2048.0, 2: 2048.0, 3: 2048.0, 4: 2048.0, 5: 2048.0, 6: 2000.0}
SWEEP_RAD = 0.3
SWEEP_PERIOD_S = 4.0
SUITE = "leader"


def _calibration() -> Calibration:
    """Both arms' calibration: centred at 2048, half-turn ranges, gripper 1500..2500."""
    arm = tuple(JointCalibration(i, 1, 2048, 1024, 3072) for i in range(1, 6))
    return Calibration(JOINT_NAMES, (*arm, JointCalibration(6, 1, 1500, 1500, 2500)))


def _bare_reads(path: str, seconds: float) -> list[int]:
    """Durations in [ns] of back-to-back position sync reads of the leader alone."""
    samples: list[int] = []
    with LeaderArm(path, _calibration(), baudrate=BAUD) as arm:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter_ns()
            arm.read()
            samples.append(time.perf_counter_ns() - t0)
    return samples


@contextlib.contextmanager
def _station(follower: str, tmp: Path) -> Iterator[str]:
    """``teleop serve --robot so101`` on ``follower``; yields its ws:// URL."""
    _calibration().save(tmp / "follower.json")
    with (tmp / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "teleop.cli", "serve", "--robot", "so101",
             "--serial-port", follower, "--calibration", str(tmp / "follower.json"),
             "--port", "0", "--record-dir", str(tmp / "recordings"),
             "--rate", str(RATE_HZ)],
            stdout=subprocess.PIPE, stderr=log, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        yield _serving_url(proc, 90.0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serving_url(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.startswith("serving on http://"):
                return "ws://" + line.split("http://", 1)[1].strip().rstrip("/")
    raise RuntimeError(f"teleop serve did not start (exit status {proc.poll()})")


class _Ticks:
    """The relay's tick timings, kept once recording is switched on."""

    def __init__(self) -> None:
        self.on = False
        self.rows: list[tuple[int, int, int]] = []

    def __call__(self, deadline_ns: int, start_ns: int, end_ns: int) -> None:
        if self.on:
            self.rows.append((deadline_ns, start_ns, end_ns))


async def _relay(url: str, leader: EmulatedArm, seconds: float, realtime: bool) -> _Run:
    """Run the leader app until it follows, then record ``seconds`` of it."""
    ticks = _Ticks()
    config = LeaderConfig(url=url, serial_port=leader.path, calibration=_calibration(),
                          rate_hz=RATE_HZ, baudrate=BAUD, name="bench-leader",
                          realtime=realtime)  # fmt: skip
    app = LeaderApp(config, on_tick=ticks)
    task = asyncio.create_task(app.run())
    try:
        async with TeleopClient(url, role="observer", name="bench-observer") as observer:
            deadline = time.monotonic() + 30.0
            while app.status.phase is not Phase.FOLLOWING:
                if task.done() or time.monotonic() > deadline:
                    raise RuntimeError(f"the leader did not engage: {app.status}")
                await asyncio.sleep(0.05)
            amplitude = SWEEP_RAD / RAD_PER_TICK
            leader.sweep({i: (START[i], amplitude, SWEEP_PERIOD_S) for i in (1, 2, 3)})
            ticks.on = True
            await asyncio.sleep(seconds)
            ticks.on = False
            state = observer.state
            server_hz = state.loop.rate_hz if state is not None else math.nan
    finally:
        leader.stop_sweep()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return _Run.of(ticks.rows, app.arm.stats, server_hz)


@dataclasses.dataclass(frozen=True)
class _Run:
    """One relay window, summarised.

    Attributes:
        rate_hz: Ticks per second achieved.
        overrun_pct: Ticks that ended after the next deadline, or were skipped, [%].
        interval_us: Tick start to tick start, p50 and p99, [µs].
        work_us: Read + map + send of one tick, p50 and p99, [µs].
        bus: The leader bus's counters.
        server_hz: The server's own control loop rate at the end, [Hz].
    """

    rate_hz: float
    overrun_pct: float
    interval_us: tuple[float, float]
    work_us: tuple[float, float]
    bus: BusStats
    server_hz: float

    @classmethod
    def of(cls, rows: list[tuple[int, int, int]], bus: BusStats, server_hz: float) -> _Run:
        t = np.array(rows, dtype=np.int64)
        deadline, start, end = t[:, 0], t[:, 1], t[:, 2]
        period_ns = round(1e9 / RATE_HZ)
        missed = int(np.maximum(np.diff(deadline) // period_ns - 1, 0).sum())
        overran = int((end > deadline + period_ns).sum()) + missed
        iv50, iv99, _ = percentiles_us(np.diff(start))
        w50, w99, _ = percentiles_us(end - start)
        return cls(
            rate_hz=(len(t) - 1) / ((start[-1] - start[0]) / 1e9),
            overrun_pct=100.0 * overran / (len(t) + missed),
            interval_us=(iv50, iv99),
            work_us=(w50, w99),
            bus=bus,
            server_hz=server_hz,
        )


def _figures(run: _Run, plain: _Run, reads: list[int]) -> list[Figure]:
    read50, read99, _ = percentiles_us(reads)
    iv50, iv99 = run.interval_us
    bus = run.bus
    return [
        Figure(SUITE, "leader->follower relay rate", run.rate_hz, "Hz", "target", RATE_HZ),
        Figure(SUITE, "relay tick overruns", run.overrun_pct, "%", "target <=", 1.0),
        Figure(SUITE, "relay tick interval p50 / p99", f"{iv50 / 1e3:.2f} / {iv99 / 1e3:.2f}",
               "ms", "period", 1e3 / RATE_HZ),
        Figure(SUITE, "relay tick work (read+map+send) p50 / p99",
               "{:.0f} / {:.0f}".format(*run.work_us), "µs", "leader sync read alone p50",
               read50),
        Figure(SUITE, "leader sync read alone p50 / p99", f"{read50:.0f} / {read99:.0f}",
               "µs", "back-to-back reads/s", 1e6 / read50),
        Figure(SUITE, "leader bus retries / timeouts / failures",
               f"{bus.retries} / {bus.timeouts} / {bus.failures}", "",
               f"of {bus.transactions} requests"),
        Figure(SUITE, "server control loop rate (so101 follower)", run.server_hz, "Hz",
               "its --rate", RATE_HZ),
        Figure(SUITE, "relay without real-time priority: rate / overruns",
               f"{plain.rate_hz:.1f} Hz / {plain.overrun_pct:.1f} %", "",
               "the same relay, a normal thread (realtime=False)"),
    ]  # fmt: skip


def run_leader_bench(seconds: float) -> list[Figure]:
    """The leader -> follower relay, beside the leader bus's bare sync-read rate.

    Args:
        seconds: The relay's measurement window, in [s]. The bare reads take a quarter
            of it, and the relay at normal priority half.
    """
    with (
        tempfile.TemporaryDirectory(prefix="teleop-bench-leader-") as tmp,
        emulated_arm(6, baudrate=BAUD, positions=START) as follower,
        emulated_arm(6, baudrate=BAUD, positions=START) as leader,
    ):
        reads = _bare_reads(leader.path, seconds / 4)
        with _station(follower.path, Path(tmp)) as url:
            run = asyncio.run(_relay(url, leader, seconds, realtime=True))
            plain = asyncio.run(_relay(url, leader, seconds / 2, realtime=False))
    return _figures(run, plain, reads)
