"""The bus over a real pseudo-terminal: requests, bounded retries, and each fault
translated into a ``RobotError`` subclass."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from robots.base import RobotIOError
from robots.serial import codec
from robots.serial import registers as reg
from robots.serial.bus import FeetechBus, usb_latency_timer_ms
from robots.serial.emulator import BusEmulator, FaultConfig
from robots.serial.errors import BusTimeoutError, CorruptPacketError, RobotDisconnectedError


def test_read_write_and_sync(emulator: BusEmulator) -> None:
    with FeetechBus(emulator.path, timeout_margin_s=0.1) as bus:
        assert bus.ping(2) == 0
        assert bus.write_register(2, reg.ACCELERATION, 17) == 0
        assert bus.read_register(2, reg.ACCELERATION) == 17
        bus.sync_write_register(reg.GOAL_POSITION, {1: 1000, 4: 3000})
        goals = bus.sync_read_register(reg.GOAL_POSITION, [1, 2, 4])
        assert goals == {1: 1000, 2: 2048, 4: 3000}
        assert bus.stats.transactions == 5 and bus.stats.retries == 0


def test_timeout_grows_with_packet_length_and_falls_with_baud() -> None:
    fast, slow = FeetechBus("/dev/null", 1_000_000), FeetechBus("/dev/null", 115_200)
    assert fast.timeout_s(14, 126) == pytest.approx(0.020 + 140 * 10 / 1e6)
    assert slow.timeout_s(14, 126) > fast.timeout_s(14, 126) > fast.timeout_s(8, 8)


def test_a_corrupted_reply_is_retried_and_counted(emulator: BusEmulator) -> None:
    emulator.faults = FaultConfig(corrupt_probability=0.3)
    with FeetechBus(emulator.path, retries=5, timeout_margin_s=0.1) as bus:
        for _ in range(10):
            assert bus.read_register(2, reg.MODEL_NUMBER) == 777
    assert bus.stats.corrupt_replies > 0
    assert bus.stats.retries == bus.stats.corrupt_replies + bus.stats.timeouts
    assert bus.stats.failures == 0


def test_corruption_beyond_the_retry_bound_raises(emulator: BusEmulator) -> None:
    emulator.faults = FaultConfig(corrupt_probability=1.0)
    with FeetechBus(emulator.path, retries=2, timeout_margin_s=0.1) as bus:
        with pytest.raises(CorruptPacketError, match=r"bad checksum from id 1.*3 attempts"):
            bus.ping(1)
    assert (bus.stats.corrupt_replies, bus.stats.retries, bus.stats.failures) == (3, 2, 1)
    assert emulator.stats.requests == 3


def test_no_reply_is_a_timeout_naming_the_servo(emulator: BusEmulator) -> None:
    with FeetechBus(emulator.path, retries=1, timeout_margin_s=0.1) as bus:
        with pytest.raises(BusTimeoutError, match=r"no reply from servo id\(s\) \[9\]") as err:
            bus.sync_read(56, 2, [1, 9])
        assert err.value.servo_ids == (9,)
        assert isinstance(err.value, RobotIOError)
        assert bus.stats.timeouts == 2
        assert bus.ping(1) == 0  # the bus is still usable


def test_a_late_reply_is_never_taken_for_the_next_answer(emulator: BusEmulator) -> None:
    emulator.faults = FaultConfig(delay_s=0.03)
    with FeetechBus(emulator.path, retries=0, timeout_margin_s=0.01, stale_window_s=0.5) as bus:
        with pytest.raises(BusTimeoutError):
            bus.sync_read_register(reg.MODEL_NUMBER, [1, 2])
        emulator.faults = FaultConfig()
        # Same ids, same length: a stale Model_Number reply would fit this request.
        assert bus.sync_read_register(reg.PRESENT_POSITION, [1, 2]) == {1: 2048, 2: 2048}


def test_cable_pulled_is_a_disconnect_error_and_closes_the_bus(emulator: BusEmulator) -> None:
    with FeetechBus(emulator.path, timeout_margin_s=0.1) as bus:
        bus.ping(1)
        emulator.pull_cable()
        with pytest.raises(RobotDisconnectedError, match="cable was pulled") as err:
            bus.ping(1)
        assert err.value.__cause__ is not None  # raised from the port's own error
        assert not bus.is_open
        with pytest.raises(RobotDisconnectedError, match="closed"):
            bus.ping(1)


def test_a_missing_port_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(RobotDisconnectedError, match=r"plugged in.*dialout"):
        FeetechBus(str(tmp_path / "ttyACM9")).open()


def test_usb_latency_timer_warning(
    emulator: BusEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tty = Path(os.path.realpath(emulator.path)).name
    (tmp_path / tty).mkdir()
    (tmp_path / tty / "latency_timer").write_text("16\n")
    assert usb_latency_timer_ms(emulator.path, tmp_path) == 16
    bus = FeetechBus(emulator.path, sysfs=tmp_path)
    with caplog.at_level(logging.WARNING), bus:
        assert bus.ping(1) == 0
    assert "latency timer is 16 ms" in caplog.text and "echo 1 | sudo tee" in caplog.text
    assert bus.timeout_s(0, 0) == pytest.approx(0.032)  # waits out two latency periods
    (tmp_path / tty / "latency_timer").write_text("1\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING), FeetechBus(emulator.path, sysfs=tmp_path):
        pass
    assert "latency" not in caplog.text


def test_no_latency_timer_on_a_pty() -> None:
    assert usb_latency_timer_ms("/dev/pts/0") is None


def test_the_emulated_wire_is_as_slow_as_the_baud_rate(emulator: BusEmulator) -> None:
    request = codec.sync_read(56, 15, [1, 2, 3, 4, 5, 6])
    assert len(request) + 6 * 21 == 140  # 1.4 ms at 1 Mbaud: a lower bound on the reply
    import time

    with FeetechBus(emulator.path, timeout_margin_s=0.1) as bus:
        t0 = time.perf_counter()
        bus.sync_read(56, 15, [1, 2, 3, 4, 5, 6])
        assert time.perf_counter() - t0 >= 0.0014
