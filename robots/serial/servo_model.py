"""An emulated Feetech STS3215: its control table, its motion, and its answers.

Pure: time is passed in (in [s], any monotonic origin) and packets go in and out as
``codec.Packet`` and bytes; ``robots.serial.emulator`` puts it on a pseudo-terminal.

Motion: with torque on, the shaft follows Goal_Position with a first-order lag and a
speed limit, and stops at the mechanical stops or at an obstacle (e.g. an object in
the gripper). The load is the position loop's effort, ``P * error``; it stays small
while the shaft is free and reaches its full value when the shaft is blocked, like a
servo stalled against a limit. A stall held for ``overload_after_s`` sets the overload
error bit and cuts the effort to a fifth, as the servo's own protection does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from robots.serial import codec
from robots.serial import registers as reg
from robots.serial.codec import BROADCAST_ID, Instruction, Packet

_SUBSTEP_S = 0.002
_MAX_SUBSTEPS = 200
_FREE_LOAD_FRACTION = 0.15
"""Share of the loop effort that shows as load while the shaft moves freely."""
_CURRENT_PER_LOAD = 0.415
"""Present_Current units (6.5 mA) per Present_Load unit (0.1 %): ~2.7 A at full load."""
_OVERLOAD_BIT = 0x20


@dataclasses.dataclass(frozen=True)
class ServoPhysics:
    """How one emulated servo moves.

    Attributes:
        time_constant_s: Lag of the shaft toward its goal, in [s].
        max_speed_tps: Speed limit in [ticks/s] (the STS3215's ~45 rpm is ~3000).
        stops: Mechanical stops in [ticks]; the shaft cannot pass them.
        obstacle: A position in [ticks] the shaft cannot pass from either side (an
            object between the gripper's jaws), or None.
        load_per_tick: Loop effort in [0.1 %] per tick of position error.
        overload_after_s: Stall time in [s] at >= Overload_Torque before protection.
    """

    time_constant_s: float = 0.03
    max_speed_tps: float = 3000.0
    stops: tuple[int, int] = (0, reg.TICKS_PER_TURN - 1)
    obstacle: int | None = None
    load_per_tick: float = 10.0
    overload_after_s: float = 2.0


class EmulatedServo:
    """One STS3215: a control table in RAM, a shaft, and the protocol's answers.

    Args:
        servo_id: Bus id (1..253).
        position: Starting shaft position in [ticks].
        physics: How the shaft moves.
        now: The current time in [s].
    """

    def __init__(
        self,
        servo_id: int,
        position: float = 2048.0,
        physics: ServoPhysics | None = None,
        now: float = 0.0,
    ) -> None:
        self.physics = physics or ServoPhysics()
        self.position = float(position)
        self.velocity = 0.0
        self.load = 0.0
        self.injected_error = 0
        """Error bits the servo reports regardless of its state (a test's fault)."""
        self._blocked = False
        self._stall_s = 0.0
        self._t = now
        self.mem = bytearray(reg.MEMORY_SIZE)
        self._reset_table(servo_id)
        self._pending: tuple[int, bytes] | None = None

    @property
    def servo_id(self) -> int:
        return self.mem[reg.ID.address]

    @property
    def error(self) -> int:
        """The error byte of the next status packet."""
        return self.injected_error | (self.mem[reg.STATUS.address] & _OVERLOAD_BIT)

    def get(self, register: reg.Register) -> int:
        """A register's value, decoded."""
        return codec.decode_register(register, bytes(self.mem))

    def set(self, register: reg.Register, value: int) -> None:
        """Set a register directly (no protocol, no side effects)."""
        data = codec.encode_register(register, value)
        self.mem[register.address : register.address + register.size] = data

    def move_by_hand(self, position: float) -> None:
        """Put the shaft at ``position`` [ticks], as a person moving the arm would."""
        self.position = float(position)
        self.velocity = 0.0

    def advance(self, now: float) -> None:
        """Run the shaft's motion up to ``now`` [s] and refresh the Present_* registers."""
        dt = now - self._t
        if dt > 0:
            n = min(_MAX_SUBSTEPS, math.ceil(dt / _SUBSTEP_S))
            for _ in range(n):
                self._step(dt / n)
            self._t = now
        self._refresh()

    def handle(self, packet: Packet, now: float) -> bytes | None:
        """Carry out one instruction meant for this servo (or broadcast); return the reply.

        Returns:
            A status packet, or None when the servo stays silent.
        """
        self.advance(now)
        code, params = packet.code, packet.params
        if code == Instruction.PING:
            return self._status(b"")
        if code == Instruction.READ and len(params) == 2:
            address, length = params
            return self._status(bytes(self.mem[address : address + length]))
        if code in (Instruction.WRITE, Instruction.REG_WRITE) and params:
            if code == Instruction.WRITE:
                self.write(params[0], params[1:])
            else:
                self._pending = (params[0], bytes(params[1:]))
            return self._ack()
        if code == Instruction.ACTION and self._pending is not None:
            self.write(*self._pending)
            self._pending = None
            return self._ack()
        if code == Instruction.RESET:
            self._reset_table(self.servo_id)
            return self._ack()
        return None

    def write(self, address: int, data: bytes) -> None:
        """Write bytes into the control table, skipping read-only registers."""
        for k, byte in enumerate(data):
            a = address + k
            if a < reg.MEMORY_SIZE and not _READ_ONLY[a]:
                self.mem[a] = byte
        if address <= reg.TORQUE_ENABLE.address < address + len(data):
            self._stall_s = 0.0  # a torque toggle clears the overload latch
            self.mem[reg.STATUS.address] &= ~_OVERLOAD_BIT & 0xFF

    def _status(self, params: bytes) -> bytes:
        return codec.status(self.servo_id, self.error, params)

    def _ack(self) -> bytes | None:
        return self._status(b"") if self.mem[reg.RESPONSE_STATUS_LEVEL.address] else None

    def _goal(self) -> float:
        """Goal in shaft ticks: Goal_Position plus Homing_Offset, within the limits."""
        goal = self.get(reg.GOAL_POSITION) + self.get(reg.HOMING_OFFSET)
        lo, hi = self.get(reg.MIN_POSITION_LIMIT), self.get(reg.MAX_POSITION_LIMIT)
        return float(min(max(goal, lo), hi)) if lo < hi else float(goal)

    def _barrier(self) -> tuple[float, float]:
        """Where the shaft can go: between the stops, on its side of the obstacle."""
        lo, hi = (float(s) for s in self.physics.stops)
        ob = self.physics.obstacle
        if ob is not None:
            lo, hi = (max(lo, ob), hi) if self.position >= ob else (lo, min(hi, ob))
        return lo, hi

    def _step(self, h: float) -> None:
        if not self.mem[reg.TORQUE_ENABLE.address]:
            self.velocity, self.load, self._blocked = 0.0, 0.0, False
            return
        p = self.physics
        goal = self._goal()
        speed = self.get(reg.GOAL_SPEED)
        vmax = min(abs(speed), p.max_speed_tps) if speed else p.max_speed_tps
        step = (goal - self.position) * (1.0 - math.exp(-h / p.time_constant_s))
        step = max(-vmax * h, min(vmax * h, step))
        lo, hi = self._barrier()
        new = max(lo, min(hi, self.position + step))
        self.velocity = (new - self.position) / h
        self.position = new
        self._blocked = not lo <= goal <= hi and new in (lo, hi)
        effort = max(-1000.0, min(1000.0, p.load_per_tick * (goal - new)))
        if self.mem[reg.STATUS.address] & _OVERLOAD_BIT:
            effort /= 5.0
        self.load = effort if self._blocked else effort * _FREE_LOAD_FRACTION
        self._track_stall(h)

    def _track_stall(self, h: float) -> None:
        if abs(self.load) >= 10 * self.mem[reg.OVERLOAD_TORQUE.address]:
            self._stall_s += h
            if self._stall_s >= self.physics.overload_after_s:
                self.mem[reg.STATUS.address] |= _OVERLOAD_BIT
        else:
            self._stall_s = 0.0

    def _refresh(self) -> None:
        present = round(self.position) - self.get(reg.HOMING_OFFSET)
        self.set(reg.PRESENT_POSITION, max(-32767, min(32767, present)))
        self.set(reg.PRESENT_SPEED, max(-32767, min(32767, round(self.velocity))))
        self.set(reg.PRESENT_LOAD, max(-1000, min(1000, round(self.load))))
        self.set(reg.PRESENT_CURRENT, round(abs(self.load) * _CURRENT_PER_LOAD))
        self.mem[reg.MOVING.address] = int(abs(self.velocity) > 5.0)

    def _reset_table(self, servo_id: int) -> None:
        self.mem[:] = bytes(reg.MEMORY_SIZE)
        defaults = {
            reg.FIRMWARE_MAJOR: 3,
            reg.FIRMWARE_MINOR: 10,
            reg.MODEL_NUMBER: reg.MODEL_STS3215,
            reg.ID: servo_id,
            reg.BAUD_RATE: 0,
            reg.RETURN_DELAY_TIME: 0,
            reg.RESPONSE_STATUS_LEVEL: 1,
            reg.MIN_POSITION_LIMIT: 0,
            reg.MAX_POSITION_LIMIT: reg.TICKS_PER_TURN - 1,
            reg.MAX_TEMPERATURE_LIMIT: 70,
            reg.MAX_VOLTAGE_LIMIT: 140,
            reg.MIN_VOLTAGE_LIMIT: 40,
            reg.MAX_TORQUE_LIMIT: 1000,
            reg.P_COEFFICIENT: 32,
            reg.D_COEFFICIENT: 32,
            reg.PROTECTION_CURRENT: 500,
            reg.OVERLOAD_TORQUE: 80,
            reg.GOAL_POSITION: round(self.position),
            reg.TORQUE_LIMIT: 1000,
            reg.PRESENT_VOLTAGE: 120,
            reg.PRESENT_TEMPERATURE: 30,
        }
        for register, value in defaults.items():
            self.set(register, value)
        self._refresh()


_READ_ONLY = [False] * reg.MEMORY_SIZE
for _register in reg.REGISTERS:
    if _register.read_only:
        for _a in range(_register.address, _register.address + _register.size):
            _READ_ONLY[_a] = True


def respond(servos: Mapping[int, EmulatedServo], packet: Packet, now: float) -> list[bytes]:
    """The status packets a bus of ``servos`` (by id) sends back for one instruction.

    Servos ignore an instruction with a bad checksum, as real ones do. For SYNC READ
    each listed servo that exists answers, in the order of the list.
    """
    if not packet.ok:
        return []
    if packet.code == Instruction.SYNC_READ:
        return _sync_read(servos, packet.params, now)
    if packet.code == Instruction.SYNC_WRITE:
        _sync_write(servos, packet.params, now)
        return []
    if packet.servo_id == BROADCAST_ID:
        for each in servos.values():
            each.handle(packet, now)  # broadcasts are never answered
        return []
    servo = servos.get(packet.servo_id)
    reply = servo.handle(packet, now) if servo is not None else None
    return [reply] if reply is not None else []


def _sync_read(servos: Mapping[int, EmulatedServo], params: bytes, now: float) -> list[bytes]:
    if len(params) < 3:
        return []
    address, length = params[0], params[1]
    read = Packet(0, Instruction.READ, bytes((address, length)))
    out = []
    for servo_id in params[2:]:
        servo = servos.get(servo_id)
        reply = servo.handle(read, now) if servo is not None else None
        if reply is not None:
            out.append(reply)
    return out


def _sync_write(servos: Mapping[int, EmulatedServo], params: bytes, now: float) -> None:
    if len(params) < 2:
        return
    address, length = params[0], params[1]
    block = 1 + length
    for k in range(2, len(params) - block + 1, block):
        servo = servos.get(params[k])
        if servo is not None:
            servo.advance(now)
            servo.write(address, bytes(params[k + 1 : k + block]))
