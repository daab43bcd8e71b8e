"""A Feetech STS bus over pyserial: ping, read, write, sync read and sync write.

This is the one boundary where the port's own exceptions (``serial.SerialException``,
``OSError``, ``termios.error``) and short reads become ``RobotError`` subclasses (see
``robots.serial.errors``). Replies are awaited for a time derived from the baud rate and
the bytes on the wire; a missing or corrupted reply is retried a bounded number of times
and every retry is counted in :attr:`FeetechBus.stats`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import serial

from robots.serial import codec
from robots.serial.codec import STATUS_OVERHEAD, Packet
from robots.serial.errors import BusTimeoutError, CorruptPacketError, RobotDisconnectedError
from robots.serial.registers import Register

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10
"""8N1 framing: a start bit, 8 data bits and a stop bit per byte."""
SYSFS_USB_SERIAL = Path("/sys/bus/usb-serial/devices")
STALE_WINDOW_S = 0.05
"""After a timeout, the line must stay quiet this long [s] before the next request, so
that a late reply is not taken for the next request's answer."""

_PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
with contextlib.suppress(ImportError):  # termios exists on POSIX only
    import termios

    _PORT_ERRORS = (*_PORT_ERRORS, termios.error)


@dataclasses.dataclass
class BusStats:
    """Counters since the bus was made; they survive close() and open().

    Attributes:
        transactions: Requests sent (each counts once, however often it was retried).
        retries: Extra attempts after a missing or corrupted reply.
        corrupt_replies: Attempts that got a reply failing its checks.
        timeouts: Attempts on which some servo did not answer in time.
        failures: Requests that failed after every attempt (and raised).
    """

    transactions: int = 0
    retries: int = 0
    corrupt_replies: int = 0
    timeouts: int = 0
    failures: int = 0


@dataclasses.dataclass(frozen=True)
class Reply:
    """One servo's answer.

    Attributes:
        data: The bytes read (empty for ping and write).
        error: The status packet's error byte (see ``registers.ERROR_BITS``).
    """

    data: bytes
    error: int


def wire_time_s(n_bytes: int, baudrate: int) -> float:
    """Time to send ``n_bytes`` at ``baudrate`` [bit/s], in [s] (8N1 framing)."""
    return n_bytes * BITS_PER_BYTE / baudrate


def usb_latency_timer_ms(port: str, sysfs: Path = SYSFS_USB_SERIAL) -> int | None:
    """The USB-serial adapter's latency timer in [ms], or None where there is none.

    Only FTDI-style ``usb-serial`` adapters (``ttyUSB*``) have it; ``ttyACM*`` and
    pseudo-terminals do not.
    """
    tty = Path(os.path.realpath(port)).name
    try:
        return int((sysfs / tty / "latency_timer").read_text().strip())
    except (OSError, ValueError):
        return None


class FeetechBus:
    """One half-duplex Feetech bus on one serial port.

    Args:
        port: Device path, e.g. ``/dev/ttyACM0`` (a symlink is fine).
        baudrate: Bus speed in [bit/s]; the STS3215 default is 1,000,000.
        retries: Extra attempts after a missing or corrupted reply (so ``retries + 1``
            attempts in all).
        timeout_margin_s: Time allowed for the host, the adapter and the servos beyond
            the bytes' wire time, in [s]. Raised to twice the USB latency timer if that
            is longer.
        stale_window_s: After a timeout, how long the line must stay quiet before the
            next request, in [s] (at least the timeout itself).
        sysfs: Where Linux lists usb-serial adapters (a parameter for tests).
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 1_000_000,
        *,
        retries: int = 2,
        timeout_margin_s: float = 0.020,
        stale_window_s: float = STALE_WINDOW_S,
        sysfs: Path = SYSFS_USB_SERIAL,
    ) -> None:
        if retries < 0 or timeout_margin_s <= 0 or baudrate <= 0:
            raise ValueError("retries must be >= 0, timeout_margin_s and baudrate > 0")
        self.port = port
        self.baudrate = baudrate
        self.retries = retries
        self.timeout_margin_s = timeout_margin_s
        self.stale_window_s = stale_window_s
        self.stats = BusStats()
        self._sysfs = sysfs
        self._margin_s = timeout_margin_s
        self._serial: serial.Serial | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether the port is open (it closes itself when the port fails)."""
        return self._serial is not None

    def open(self) -> None:
        """Open the port; safe when already open.

        Raises:
            RobotDisconnectedError: The port cannot be opened; the message names the fix.
        """
        if self._serial is not None:
            return
        self._margin_s = self._check_latency_timer()
        try:
            self._serial = serial.Serial(
                self.port,
                self.baudrate,
                timeout=self._margin_s,
                write_timeout=1.0,
                exclusive=True,
            )
        except _PORT_ERRORS as exc:
            raise RobotDisconnectedError(
                f"cannot open serial port {self.port}: {exc}. Check that the arm's USB "
                "adapter is plugged in and powered, that the path is right (ls /dev/ttyACM* "
                "/dev/ttyUSB* /dev/serial/by-id/), that no other program holds the port, and "
                "that you may use it (the 'dialout' group)"
            ) from exc
        log.debug("opened %s at %d baud", self.port, self.baudrate)

    def close(self) -> None:
        """Close the port; safe to call twice, and when the port is already gone."""
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(*_PORT_ERRORS):
                ser.close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def timeout_s(self, tx_bytes: int, rx_bytes: int) -> float:
        """How long to wait for ``rx_bytes`` of replies after sending ``tx_bytes``, [s]."""
        return wire_time_s(tx_bytes + rx_bytes, self.baudrate) + self._margin_s

    def ping(self, servo_id: int) -> int:
        """PING one servo; returns its error byte."""
        return self._transact(codec.ping(servo_id), [(servo_id, 0)])[servo_id].code

    def read(self, servo_id: int, address: int, length: int) -> Reply:
        """READ ``length`` bytes at ``address`` of one servo."""
        reply = self._transact(codec.read(servo_id, address, length), [(servo_id, length)])
        return Reply(reply[servo_id].params, reply[servo_id].code)

    def write(self, servo_id: int, address: int, data: bytes) -> int:
        """WRITE ``data`` at ``address`` of one servo; returns its error byte."""
        return self._transact(codec.write(servo_id, address, data), [(servo_id, 0)])[servo_id].code

    def sync_read(self, address: int, length: int, servo_ids: Sequence[int]) -> dict[int, Reply]:
        """SYNC READ the same ``length`` bytes at ``address`` of every servo, in one request."""
        packet = codec.sync_read(address, length, servo_ids)
        replies = self._transact(packet, [(i, length) for i in servo_ids])
        return {i: Reply(replies[i].params, replies[i].code) for i in servo_ids}

    def sync_write(self, address: int, length: int, data_by_id: Mapping[int, bytes]) -> None:
        """SYNC WRITE one block per servo at ``address``, in one request (no replies)."""
        self._transact(codec.sync_write(address, length, data_by_id), [])

    def read_register(self, servo_id: int, register: Register) -> int:
        """One register's value, decoded (sign-magnitude where the register is signed)."""
        reply = self.read(servo_id, register.address, register.size)
        return codec.decode_value(reply.data, register.sign_bit)

    def write_register(self, servo_id: int, register: Register, value: int) -> int:
        """Write one register; returns the servo's error byte."""
        return self.write(servo_id, register.address, codec.encode_register(register, value))

    def sync_read_register(self, register: Register, servo_ids: Sequence[int]) -> dict[int, int]:
        """One register of every servo, decoded."""
        replies = self.sync_read(register.address, register.size, servo_ids)
        return {i: codec.decode_value(r.data, register.sign_bit) for i, r in replies.items()}

    def sync_write_register(self, register: Register, values: Mapping[int, int]) -> None:
        """Write one register on every servo (id -> value) in one request."""
        data = {i: codec.encode_register(register, v) for i, v in values.items()}
        self.sync_write(register.address, register.size, data)

    def _check_latency_timer(self) -> float:
        """Warn about a slow USB latency timer; return the reply margin in [s]."""
        if not sys.platform.startswith("linux"):
            return self.timeout_margin_s
        latency_ms = usb_latency_timer_ms(self.port, self._sysfs)
        if latency_ms is None:
            return self.timeout_margin_s
        if latency_ms > 1:
            tty = Path(os.path.realpath(self.port)).name
            log.warning(
                "%s: the USB adapter's latency timer is %d ms, so every reply waits up to "
                "that long; set it to 1 ms for loops at 50 Hz and faster: "
                'echo 1 | sudo tee %s (or a udev rule with ATTR{latency_timer}="1")',
                self.port,
                latency_ms,
                self._sysfs / tty / "latency_timer",
            )
        return max(self.timeout_margin_s, 2 * latency_ms / 1000)

    def _transact(self, packet: bytes, expected: Sequence[tuple[int, int]]) -> dict[int, Packet]:
        """Send ``packet`` and collect one reply per ``(servo_id, n_params)``, with retries.

        Raises:
            RobotDisconnectedError: The bus is closed, or the port failed (not retried).
            BusTimeoutError, CorruptPacketError: Every attempt failed.
        """
        with self._lock:
            self.stats.transactions += 1
            last: BusTimeoutError | CorruptPacketError | None = None
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                    log.debug("%s: retry %d after: %s", self.port, attempt, last)
                try:
                    return self._exchange(packet, expected)
                except CorruptPacketError as exc:
                    self.stats.corrupt_replies += 1
                    last = exc
                    self._drain(self.timeout_s(len(packet), 0))
                except BusTimeoutError as exc:
                    self.stats.timeouts += 1
                    last = exc
                    self._drain(max(self.timeout_s(len(packet), 0), self.stale_window_s))
            self.stats.failures += 1
            note = f" ({self.retries + 1} attempts)"
            if isinstance(last, BusTimeoutError):
                raise BusTimeoutError(str(last) + note, last.servo_ids) from last
            raise CorruptPacketError(str(last) + note) from last

    def _exchange(self, packet: bytes, expected: Sequence[tuple[int, int]]) -> dict[int, Packet]:
        """One attempt: write the request, read the replies, check them."""
        rx_bytes = sum(STATUS_OVERHEAD + n for _, n in expected)
        timeout = self.timeout_s(len(packet), rx_bytes)
        with self._port_errors():
            ser = self._open_serial()
            ser.reset_input_buffer()
            ser.write(packet)
            if not expected:
                return {}
            if ser.timeout != timeout:
                ser.timeout = timeout
            data = ser.read(rx_bytes)
            extra = ser.in_waiting
        if extra:
            # More bytes than were asked for: some of what was read may be a stale reply.
            raise CorruptPacketError(f"{extra} unexpected byte(s) after the replies")
        return _check_replies(data, expected, timeout)

    def _drain(self, quiet_s: float) -> None:
        """Discard late replies until the line stays quiet for ``quiet_s`` [s].

        A reply that comes after its timeout would otherwise be taken as the answer to
        the next request (same ids, same length: silently wrong data).
        """
        with self._port_errors():
            ser = self._open_serial()
            ser.timeout = quiet_s
            while ser.read(4096):
                pass
            ser.reset_input_buffer()

    def _open_serial(self) -> serial.Serial:
        if self._serial is None:
            raise RobotDisconnectedError(
                f"serial port {self.port} is closed; open() it (or connect() the robot) again"
            )
        return self._serial

    @contextlib.contextmanager
    def _port_errors(self) -> Iterator[None]:
        """Translate the port's exceptions; a failed port is closed, never retried."""
        try:
            yield
        except serial.SerialTimeoutException as exc:
            raise BusTimeoutError(f"{self.port}: write timed out: {exc}") from exc
        except _PORT_ERRORS as exc:
            self.close()
            raise RobotDisconnectedError(
                f"serial port {self.port} failed ({exc}): the cable was pulled or the adapter "
                "lost power. The servos keep holding their last goal. Call connect() again "
                "once the port is back"
            ) from exc


def _check_replies(
    data: bytes, expected: Sequence[tuple[int, int]], timeout_s: float
) -> dict[int, Packet]:
    """Split ``data`` into status packets and check each against what was expected.

    Raises:
        CorruptPacketError: A packet failed its checksum, or has the wrong length.
        BusTimeoutError: Some servo's reply is missing (or incomplete).
    """
    sizes = dict(expected)
    replies: dict[int, Packet] = {}
    bad: list[str] = []
    pos = 0
    while True:
        pkt, pos = codec.next_packet(data, pos)
        if pkt is None:
            break
        if not pkt.ok:
            bad.append(f"bad checksum from id {pkt.servo_id}")
        elif pkt.servo_id in sizes and len(pkt.params) != sizes[pkt.servo_id]:
            bad.append(
                f"servo {pkt.servo_id} sent {len(pkt.params)} bytes, expected {sizes[pkt.servo_id]}"
            )
        else:
            replies[pkt.servo_id] = pkt
    if bad:
        raise CorruptPacketError(f"corrupted status packet: {'; '.join(bad)}")
    missing = tuple(i for i, _ in expected if i not in replies)
    if missing:
        raise BusTimeoutError(
            f"no reply from servo id(s) {list(missing)} within {timeout_s * 1e3:.1f} ms "
            f"({len(data)} bytes arrived): check the servo's power, wiring and id",
            missing,
        )
    return replies
