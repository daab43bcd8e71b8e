"""The packet codec, byte by byte, against examples worked out by hand from the protocol
(``CHK = ~(ID + LEN + INSTR + P...) & 0xFF``, ``LEN = n + 2``)."""

from __future__ import annotations

import pytest

from robots.serial import codec
from robots.serial import registers as reg


def test_ping_packet() -> None:
    # 01 + 02 + 01 = 0x04; ~0x04 & 0xFF = 0xFB
    assert codec.ping(1) == bytes.fromhex("FF FF 01 02 01 FB")


def test_read_present_position_packet() -> None:
    # 01 + 04 + 02 + 38 + 02 = 0x41 -> 0xBE
    assert codec.read(1, 56, 2) == bytes.fromhex("FF FF 01 04 02 38 02 BE")


def test_write_goal_position_little_endian() -> None:
    data = codec.encode_register(reg.GOAL_POSITION, 2048)
    assert data == bytes.fromhex("00 08")
    # 01 + 05 + 03 + 2A + 00 + 08 = 0x3B -> 0xC4
    assert codec.write(1, 42, data) == bytes.fromhex("FF FF 01 05 03 2A 00 08 C4")


def test_sync_read_layout() -> None:
    # broadcast, LEN = N + 4 = 6; FE+06+82+38+02+01+02 = 0x1C3 -> ~0xC3 = 0x3C
    assert codec.sync_read(56, 2, [1, 2]) == bytes.fromhex("FF FF FE 06 82 38 02 01 02 3C")


def test_sync_write_layout() -> None:
    blocks = {1: bytes.fromhex("00 08"), 2: bytes.fromhex("00 04")}
    # LEN = N*(1+len) + 4 = 10; FE+0A+83+2A+02+01+00+08+02+00+04 = 0x1C6 -> 0x39
    expected = bytes.fromhex("FF FF FE 0A 83 2A 02 01 00 08 02 00 04 39")
    assert codec.sync_write(42, 2, blocks) == expected


def test_sync_write_refuses_a_block_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="servo 2: 1 data bytes, expected 2"):
        codec.sync_write(42, 2, {1: b"\x00\x08", 2: b"\x00"})


def test_status_packet_and_checksum() -> None:
    # 01 + 04 + 00 + 00 + 08 = 0x0D -> 0xF2
    assert codec.status(1, 0, b"\x00\x08") == bytes.fromhex("FF FF 01 04 00 00 08 F2")
    assert codec.checksum([0xFE, 0x0A, 0x83]) == (~(0xFE + 0x0A + 0x83)) & 0xFF


@pytest.mark.parametrize(
    "value, sign_bit, raw",
    [
        (100, 15, 0x0064),
        (-100, 15, 0x8064),
        (-500, 10, 0x05F4),
        (500, 10, 0x01F4),
        (-2047, 11, 0x0FFF),
        (0, 15, 0x0000),
    ],
)
def test_sign_magnitude(value: int, sign_bit: int, raw: int) -> None:
    assert codec.encode_sign_magnitude(value, sign_bit) == raw
    assert codec.decode_sign_magnitude(raw, sign_bit) == value


def test_signed_register_bytes() -> None:
    assert codec.encode_register(reg.PRESENT_SPEED, -100) == bytes.fromhex("64 80")
    assert codec.decode_register(reg.PRESENT_LOAD, bytes.fromhex("F4 05"), 60) == -500
    with pytest.raises(ValueError, match="does not fit"):
        codec.encode_sign_magnitude(1024, 10)


def test_next_packet_skips_noise_and_splits_a_stream() -> None:
    a, b = codec.status(1, 0, b"\x00\x08"), codec.status(2, 0x20, b"")
    stream = b"\x00\x13" + a + b
    first, end = codec.next_packet(stream)
    assert first == codec.Packet(1, 0, b"\x00\x08", True)
    second, end = codec.next_packet(stream, end)
    assert second == codec.Packet(2, 0x20, b"", True)
    assert codec.next_packet(stream, end) == (None, len(stream))


def test_next_packet_waits_for_the_rest_and_flags_a_bad_checksum() -> None:
    pkt = codec.read(3, 56, 2)
    assert codec.next_packet(pkt[:5]) == (None, 0)
    bad = pkt[:-1] + bytes(((pkt[-1] + 1) & 0xFF,))
    found, end = codec.next_packet(bad)
    assert found is not None and not found.ok and end == len(bad)


def test_next_packet_resyncs_after_an_extra_ff_and_an_impossible_length() -> None:
    pkt = codec.ping(4)
    found, _ = codec.next_packet(b"\xff" + pkt)
    assert found == codec.Packet(4, codec.Instruction.PING, b"", True)
    found, _ = codec.next_packet(b"\xff\xff\x01\x00" + pkt)  # LEN 0 cannot be
    assert found is not None and found.servo_id == 4


def test_feedback_block_covers_position_to_current() -> None:
    assert (reg.FEEDBACK_START, reg.FEEDBACK_LENGTH) == (56, 15)
    assert reg.error_names(0x25) == ("voltage", "overheat", "overload")
