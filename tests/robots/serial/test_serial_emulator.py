"""The emulated servo (pure, with time passed in) and the emulator on a pseudo-terminal."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from timing import MS

from robots.base import RobotIOError
from robots.serial import codec
from robots.serial import registers as reg
from robots.serial.bus import FeetechBus
from robots.serial.emulator import BusEmulator, FaultConfig
from robots.serial.errors import RobotDisconnectedError
from robots.serial.servo_model import EmulatedServo, ServoPhysics, respond


def _torque_on(servo: EmulatedServo, goal: int) -> None:
    servo.write(reg.GOAL_POSITION.address, codec.encode_register(reg.GOAL_POSITION, goal))
    servo.write(reg.TORQUE_ENABLE.address, b"\x01")


def test_register_table_defaults() -> None:
    servo = EmulatedServo(3, position=1234.0)
    assert servo.get(reg.MODEL_NUMBER) == 777
    assert servo.get(reg.ID) == 3
    assert servo.get(reg.PRESENT_POSITION) == 1234
    assert servo.get(reg.TORQUE_ENABLE) == 0
    assert servo.get(reg.PRESENT_VOLTAGE) == 120  # 12.0 V in 0.1 V


def test_servo_follows_goal_with_a_speed_limit() -> None:
    servo = EmulatedServo(1, 2048.0, ServoPhysics(max_speed_tps=1000.0), now=0.0)
    _torque_on(servo, 3048)
    servo.advance(0.5)
    assert 2048 + 450 < servo.position <= 2048 + 500  # at most 1000 ticks/s
    assert servo.get(reg.PRESENT_SPEED) == pytest.approx(1000, abs=1)
    assert servo.get(reg.MOVING) == 1
    servo.advance(3.0)
    assert servo.get(reg.PRESENT_POSITION) == 3048
    assert servo.get(reg.MOVING) == 0


def test_without_torque_the_goal_is_stored_but_nothing_moves() -> None:
    servo = EmulatedServo(1, 2048.0)
    servo.write(reg.GOAL_POSITION.address, codec.encode_register(reg.GOAL_POSITION, 3000))
    servo.advance(2.0)
    assert servo.get(reg.PRESENT_POSITION) == 2048
    servo.move_by_hand(2500)
    servo.advance(3.0)
    assert servo.get(reg.PRESENT_POSITION) == 2500


def test_load_rises_when_blocked_by_an_obstacle() -> None:
    free = EmulatedServo(6, 2500.0, ServoPhysics(), now=0.0)
    blocked = EmulatedServo(6, 2500.0, ServoPhysics(obstacle=2200), now=0.0)
    for servo in (free, blocked):
        _torque_on(servo, 1500)
        servo.advance(1.0)
    assert free.get(reg.PRESENT_POSITION) == 1500
    assert abs(free.get(reg.PRESENT_LOAD)) < 50
    assert blocked.get(reg.PRESENT_POSITION) == 2200
    assert blocked.get(reg.PRESENT_LOAD) == -1000  # pushing toward lower ticks, saturated
    assert blocked.get(reg.PRESENT_CURRENT) > 300
    blocked.advance(3.5)  # stalled beyond the protection time
    assert blocked.error & 0x20


def test_load_rises_against_a_mechanical_stop() -> None:
    servo = EmulatedServo(2, 3900.0, ServoPhysics(stops=(100, 4000)), now=0.0)
    _torque_on(servo, 4095)
    servo.advance(1.0)
    assert servo.get(reg.PRESENT_POSITION) == 4000
    assert servo.get(reg.PRESENT_LOAD) == 950


def test_respond_sync_read_in_id_order_skipping_absent_servos() -> None:
    servos = {i: EmulatedServo(i, 1000.0 + i) for i in (1, 2, 3)}
    packet, _ = codec.next_packet(codec.sync_read(56, 2, [3, 9, 1]))
    assert packet is not None
    replies = respond(servos, packet, 0.0)
    assert replies == [
        codec.status(3, 0, codec.encode_value(1003, 2)),
        codec.status(1, 0, codec.encode_value(1001, 2)),
    ]


def test_respond_ignores_bad_checksums_and_sync_write_is_silent() -> None:
    servos = {i: EmulatedServo(i) for i in (1, 2)}
    bad = codec.Packet(1, codec.Instruction.PING, b"", ok=False)
    assert respond(servos, bad, 0.0) == []
    write, _ = codec.next_packet(codec.sync_write(42, 2, {2: codec.encode_value(3000, 2)}))
    assert write is not None
    assert respond(servos, write, 0.0) == []
    assert servos[2].get(reg.GOAL_POSITION) == 3000
    assert servos[1].get(reg.GOAL_POSITION) == 2048


def test_read_only_registers_ignore_writes() -> None:
    servo = EmulatedServo(1)
    servo.write(reg.MODEL_NUMBER.address, b"\x00\x00")
    servo.write(reg.PRESENT_POSITION.address, b"\x00\x00")
    assert servo.get(reg.MODEL_NUMBER) == 777
    assert servo.get(reg.PRESENT_POSITION) == 2048


def test_serves_a_real_pty_path_without_symlinks(emulator: BusEmulator) -> None:
    path = emulator.path
    assert path.startswith("/dev/pts/")
    assert os.path.realpath(path) == path
    with FeetechBus(path, timeout_margin_s=0.1) as bus:
        assert bus.read_register(1, reg.MODEL_NUMBER) == 777


def test_fault_stats_count_dropped_and_corrupted_replies() -> None:
    faults = FaultConfig(drop_probability=0.3, corrupt_probability=0.3)
    emu = BusEmulator(3, faults=faults, seed=7)
    with emu, FeetechBus(emu.path, retries=0, timeout_margin_s=0.1) as bus:
        for _ in range(20):
            try:
                bus.ping(1)
            except RobotIOError:
                pass
    assert emu.stats.requests == 20
    assert emu.stats.dropped > 0 and emu.stats.corrupted > 0
    # Each faulted reply fails its request (no retries); a loaded host may add timeouts.
    assert bus.stats.failures >= emu.stats.dropped + emu.stats.corrupted
    assert 0 < bus.stats.corrupt_replies <= emu.stats.corrupted


def test_link_follows_the_terminal_across_a_cable_pull(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    with BusEmulator(2, link=link) as emu:
        assert emu.path == str(link)
        with FeetechBus(emu.path, timeout_margin_s=0.1) as bus:
            bus.ping(1)
            emu.pull_cable()
            assert not link.exists()
            with pytest.raises(RobotDisconnectedError):
                bus.ping(1)
        emu.plug_cable()
        assert link.is_symlink() and os.path.realpath(link).startswith("/dev/pts/")
        with FeetechBus(emu.path, timeout_margin_s=0.1) as bus:
            assert bus.ping(2) == 0
    assert emu.stats.pulls == 1
    assert not link.exists()


def test_timed_cable_pull_and_return(tmp_path: Path) -> None:
    faults = FaultConfig(pull_after_s=0.2, return_after_s=0.3)
    with BusEmulator(1, link=tmp_path / "tty", faults=faults) as emu:
        deadline = time.monotonic() + 5000 * MS
        while emu.stats.pulls == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emu.stats.pulls == 1
        while not emu.cable_connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emu.cable_connected
        with FeetechBus(emu.path, timeout_margin_s=0.1) as bus:
            assert bus.ping(1) == 0
