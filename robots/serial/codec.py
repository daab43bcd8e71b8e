"""Feetech SCS/STS protocol 0 packets as pure functions over bytes: no I/O, no clock.

Instruction: ``FF FF ID LEN INSTR P1..Pn CHK``; status: ``FF FF ID LEN ERR P1..Pn CHK``;
``LEN = n + 2`` and ``CHK = ~(ID + LEN + INSTR/ERR + P1 + ... + Pn) & 0xFF``. Multi-byte
values are little-endian; signed registers use sign-magnitude encoding.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence

from robots.serial.registers import Register

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFD
STATUS_OVERHEAD = 6
"""Bytes of a status packet around its parameters: header (2), id, len, error, chk."""


class Instruction(enum.IntEnum):
    """Instruction codes."""

    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    RESET = 0x06
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83


@dataclasses.dataclass(frozen=True)
class Packet:
    """One decoded packet, instruction or status.

    Attributes:
        servo_id: The id byte (``BROADCAST_ID`` for broadcasts).
        code: The instruction code, or the error byte of a status packet.
        params: The parameter bytes.
        ok: Whether the checksum matched.
    """

    servo_id: int
    code: int
    params: bytes
    ok: bool = True


def checksum(body: Iterable[int]) -> int:
    """The checksum of ``ID, LEN, INSTR/ERR, P1..Pn``: the inverted low byte of their sum."""
    return ~sum(body) & 0xFF


def encode(servo_id: int, code: int, params: bytes = b"") -> bytes:
    """One packet (instruction or status) with its header, length and checksum."""
    if not 0 <= servo_id <= BROADCAST_ID:
        raise ValueError(f"servo id {servo_id} outside 0..{BROADCAST_ID}")
    if len(params) > 250:
        raise ValueError(f"{len(params)} parameter bytes; a packet holds at most 250")
    body = bytes((servo_id, len(params) + 2, code)) + params
    return HEADER + body + bytes((checksum(body),))


def ping(servo_id: int) -> bytes:
    """PING: the servo answers with an empty status packet."""
    return encode(servo_id, Instruction.PING)


def read(servo_id: int, address: int, length: int) -> bytes:
    """READ ``length`` bytes from ``address``."""
    return encode(servo_id, Instruction.READ, bytes((address, length)))


def write(servo_id: int, address: int, data: bytes) -> bytes:
    """WRITE ``data`` at ``address``."""
    return encode(servo_id, Instruction.WRITE, bytes((address,)) + data)


def sync_read(address: int, length: int, servo_ids: Sequence[int]) -> bytes:
    """SYNC READ: params ``[addr, len, id1..idN]``; each servo answers in id order."""
    return encode(BROADCAST_ID, Instruction.SYNC_READ, bytes((address, length, *servo_ids)))


def sync_write(address: int, length: int, data_by_id: Mapping[int, bytes]) -> bytes:
    """SYNC WRITE: params ``[addr, len, id1, d.., id2, d.., ...]``; no servo answers.

    Raises:
        ValueError: A data block is not ``length`` bytes long.
    """
    params = bytearray((address, length))
    for servo_id, data in data_by_id.items():
        if len(data) != length:
            raise ValueError(f"servo {servo_id}: {len(data)} data bytes, expected {length}")
        params.append(servo_id)
        params += data
    return encode(BROADCAST_ID, Instruction.SYNC_WRITE, bytes(params))


def status(servo_id: int, error: int, params: bytes = b"") -> bytes:
    """A status (reply) packet."""
    return encode(servo_id, error, params)


def next_packet(buf: bytes | bytearray, start: int = 0) -> tuple[Packet | None, int]:
    """Find the next complete packet in a byte stream.

    Bytes before a header are skipped. A header with an impossible length byte (< 2) is
    skipped too, so one corrupted byte cannot stall the stream.

    Args:
        buf: Received bytes.
        start: Where to start looking.

    Returns:
        ``(packet, end)``: the packet and the index just past it; or ``(None, end)`` when
        no complete packet is there yet, ``end`` being where the unused bytes begin.
        A packet whose checksum fails is returned with ``ok=False``.
    """
    i = start
    while True:
        i = buf.find(HEADER, i)
        if i < 0:
            # Keep a trailing 0xFF: it may be the first half of the next header.
            return None, len(buf) - 1 if buf.endswith(b"\xff") else len(buf)
        while i + 2 < len(buf) and buf[i + 2] == 0xFF:
            i += 1  # FF FF FF ...: the header is the last two before the id
        if i + 4 > len(buf):
            return None, i
        length = buf[i + 3]
        if length < 2:
            i += 1
            continue
        end = i + 4 + length
        if end > len(buf):
            return None, i
        body = bytes(buf[i + 2 : end - 1])
        return Packet(body[0], body[2], body[3:], buf[end - 1] == checksum(body)), end


def encode_sign_magnitude(value: int, sign_bit: int) -> int:
    """``value`` as sign-magnitude: magnitude below ``sign_bit``, sign in it.

    Raises:
        ValueError: ``|value|`` does not fit below the sign bit.
    """
    magnitude = abs(value)
    if magnitude >= 1 << sign_bit:
        raise ValueError(f"{value} does not fit in {sign_bit} bits of sign-magnitude")
    return magnitude | (1 << sign_bit if value < 0 else 0)


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    """The signed value of a sign-magnitude register (bits above ``sign_bit`` ignored)."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw >> sign_bit & 1 else magnitude


def encode_value(value: int, size: int, sign_bit: int | None = None) -> bytes:
    """A register value as ``size`` little-endian bytes.

    Raises:
        ValueError: The value does not fit.
    """
    raw = encode_sign_magnitude(value, sign_bit) if sign_bit is not None else value
    if not 0 <= raw < 1 << (8 * size):
        raise ValueError(f"{value} does not fit in {size} unsigned byte(s)")
    return raw.to_bytes(size, "little")


def decode_value(data: bytes, sign_bit: int | None = None) -> int:
    """The value of little-endian register bytes."""
    raw = int.from_bytes(data, "little")
    return decode_sign_magnitude(raw, sign_bit) if sign_bit is not None else raw


def encode_register(register: Register, value: int) -> bytes:
    """``value`` encoded for ``register`` (its size and sign convention)."""
    return encode_value(value, register.size, register.sign_bit)


def decode_register(register: Register, data: bytes, offset: int = 0) -> int:
    """The value of ``register`` in ``data``, which starts at address ``offset``."""
    start = register.address - offset
    return decode_value(data[start : start + register.size], register.sign_bit)
