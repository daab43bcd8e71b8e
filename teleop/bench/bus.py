"""``teleop bench bus``: a 6-servo sync read and sync write over a pseudo-terminal.

The emulator runs in its own process (as a real bus is another device), at 1,000,000
baud with replies held back by their wire time. The reference, measured in the same
run, is the floor: a bare pyserial write and read of the very same bytes through the
same emulator, with no codec and no checks.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import serial

from robots.serial import codec
from robots.serial import registers as reg
from robots.serial.bus import FeetechBus, wire_time_s
from robots.serial.calibration import Calibration, JointCalibration
from robots.serial.emulator import emulator_process
from robots.serial.so101 import JOINT_NAMES, So101Robot
from teleop.bench.report import Figure, percentiles_us

BAUD = 1_000_000
IDS = (1, 2, 3, 4, 5, 6)


def _timed(call: Callable[[], object], seconds: float) -> list[int]:
    """Durations in [ns] of back-to-back calls for ``seconds``."""
    samples: list[int] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - t0)
    return samples


def _p50_p99(samples: list[int]) -> tuple[str, float]:
    p50, p99, _ = percentiles_us(samples)
    return f"{p50:.0f} / {p99:.0f}", p50


def _floor(path: str, request: bytes, rx_bytes: int, seconds: float) -> list[int]:
    with serial.Serial(path, BAUD, timeout=1.0) as port:

        def round_trip() -> None:
            port.reset_input_buffer()
            port.write(request)
            port.read(rx_bytes)  # a short read shows as a 1 s outlier

        return _timed(round_trip, seconds)


def _bus_figures(path: str, seconds: float) -> list[Figure]:
    request = codec.sync_read(reg.FEEDBACK_START, reg.FEEDBACK_LENGTH, IDS)
    rx_bytes = len(IDS) * (codec.STATUS_OVERHEAD + reg.FEEDBACK_LENGTH)
    floor = _floor(path, request, rx_bytes, seconds)
    goals = {i: codec.encode_register(reg.GOAL_POSITION, 2048) for i in IDS}
    write_packet = codec.sync_write(reg.GOAL_POSITION.address, 2, goals)
    with FeetechBus(path, BAUD) as bus:
        reads = _timed(lambda: bus.sync_read(reg.FEEDBACK_START, reg.FEEDBACK_LENGTH, IDS), seconds)
        writes = _timed(lambda: bus.sync_write(reg.GOAL_POSITION.address, 2, goals), seconds)
        stats = bus.stats
    read_txt, _ = _p50_p99(reads)
    floor_txt, floor_p50 = _p50_p99(floor)
    write_txt, _ = _p50_p99(writes)
    wire_us = wire_time_s(len(request) + rx_bytes, BAUD) * 1e6
    return [
        Figure(
            "bus",
            f"sync read 6 servos x {reg.FEEDBACK_LENGTH} B p50 / p99",
            read_txt,
            "µs",
            "floor: bare pyserial, same bytes, p50",
            floor_p50,
        ),
        Figure(
            "bus",
            "floor: bare pyserial round trip p50 / p99",
            floor_txt,
            "µs",
            f"wire time of {len(request) + rx_bytes} B at 1 Mbaud",
            wire_us,
        ),
        Figure(
            "bus",
            "sync write goal, 6 servos p50 / p99",
            write_txt,
            "µs",
            f"wire time of its {len(write_packet)} B",
            wire_time_s(len(write_packet), BAUD) * 1e6,
        ),
        Figure(
            "bus",
            "retries / timeouts / corrupt replies",
            f"{stats.retries} / {stats.timeouts} / {stats.corrupt_replies}",
            "",
            f"of {stats.transactions} requests",
        ),
    ]


def _robot_figure(path: str, seconds: float) -> Figure:
    joints = tuple(JointCalibration(i, 1, 2048, 1024, 3072) for i in IDS[:-1])
    calibration = Calibration(JOINT_NAMES, (*joints, JointCalibration(6, 1, 1500, 1500, 2500)))
    with tempfile.TemporaryDirectory() as tmp:
        cal_path = Path(tmp) / "so101.json"
        calibration.save(cal_path)
        with So101Robot(path, cal_path) as arm:
            q = arm.read().q

            def cycle() -> None:
                arm.read()
                arm.command(q + 0.1 * np.sin(time.perf_counter()))

            text, _ = _p50_p99(_timed(cycle, seconds))
    return Figure("bus", "so101 read()+command() p50 / p99", text, "µs", "a 100 Hz tick", 10_000.0)


def run_bus_bench(seconds: float) -> list[Figure]:
    """Sync read and sync write timings over an emulated bus, beside the bare-port floor.

    Args:
        seconds: Measurement window per scenario, in [s].
    """
    with emulator_process(len(IDS), baudrate=BAUD, positions={6: 1500.0}) as path:
        window = seconds / 4
        return [*_bus_figures(path, window), _robot_figure(path, window)]
