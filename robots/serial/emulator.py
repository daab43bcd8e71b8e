"""A virtual Feetech bus on a pseudo-terminal, for tests, demos and benchmarks.

``pty.openpty()`` gives two ends: the emulator serves the servos on one end, and any
client, pyserial or the vendor SDK, opens the other by its path (``/dev/pts/N``), as it
would open ``/dev/ttyACM0``. Replies are held back by the bytes' wire time at the
emulated baud rate, so timings look like a real bus's.

Faults, for the driver's tests: dropped replies and bad checksums (probabilities), a
reply delay, and "cable pulled" (both ends closed, so the client's next read or write
fails). A pseudo-terminal cannot come back at the same ``/dev/pts/N``, so when the
cable comes back there is a new one; with ``link`` set, the emulator keeps a symlink at
that stable path, removes it while the cable is out and points it at the new terminal
when the cable is back, as udev does with ``/dev/serial/by-id/...`` for a replugged
adapter. Clients that should reconnect open the link.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import pty
import random
import select
import threading
import time
import tty
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from robots.serial import codec
from robots.serial.bus import wire_time_s
from robots.serial.servo_model import EmulatedServo, ServoPhysics, respond

log = logging.getLogger(__name__)

_POLL_S = 0.02


@dataclasses.dataclass(frozen=True)
class FaultConfig:
    """Faults to inject.

    Attributes:
        drop_probability: Chance in [0, 1] that a servo's reply is not sent.
        corrupt_probability: Chance in [0, 1] that a reply's checksum byte is wrong.
        delay_s: Extra time before every reply, in [s].
        pull_after_s: Pull the cable this long after start(), in [s]; None: never.
        return_after_s: Plug it back this long after it was pulled, in [s]; None: never.
    """

    drop_probability: float = 0.0
    corrupt_probability: float = 0.0
    delay_s: float = 0.0
    pull_after_s: float | None = None
    return_after_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("drop_probability", "corrupt_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("delay_s", "pull_after_s", "return_after_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")


@dataclasses.dataclass
class EmulatorStats:
    """What the emulator did: requests parsed, replies sent, dropped and corrupted."""

    requests: int = 0
    replies: int = 0
    dropped: int = 0
    corrupted: int = 0
    pulls: int = 0


class BusEmulator:
    """Servos on a pseudo-terminal, served by a background thread.

    Args:
        servos: How many servos (ids 1..N), or their ids.
        baudrate: Emulated bus speed in [bit/s]; replies wait for their wire time.
        faults: Faults to inject; may be replaced while running.
        link: A stable path kept as a symlink to the current terminal, or None.
        positions: Starting shaft positions in [ticks] by id (default 2048).
        physics: Per-id motion parameters (default ``ServoPhysics()``).
        seed: Seed of the fault draws.
        wire_timing: Hold replies back by their wire time.

    Use it as a context manager, or call start() and stop()::

        with BusEmulator(6) as emu:
            bus = FeetechBus(emu.path)
    """

    def __init__(
        self,
        servos: int | Sequence[int] = 6,
        *,
        baudrate: int = 1_000_000,
        faults: FaultConfig | None = None,
        link: str | Path | None = None,
        positions: Mapping[int, float] | None = None,
        physics: Mapping[int, ServoPhysics] | None = None,
        seed: int | None = None,
        wire_timing: bool = True,
    ) -> None:
        ids = list(range(1, servos + 1)) if isinstance(servos, int) else list(servos)
        if not ids or not all(0 <= i <= codec.MAX_ID for i in ids):
            raise ValueError(f"servo ids must be in 0..{codec.MAX_ID}, got {ids}")
        now = time.monotonic()
        positions, physics = positions or {}, physics or {}
        self.servos = {
            i: EmulatedServo(i, positions.get(i, 2048.0), physics.get(i), now) for i in ids
        }
        self.baudrate = baudrate
        self.faults = faults or FaultConfig()
        self.link = Path(link) if link is not None else None
        self.wire_timing = wire_timing
        self.stats = EmulatorStats()
        self.lock = threading.RLock()
        """Hold it to change servos from another thread while the bus serves."""
        self._rng = random.Random(seed)
        self._master: int | None = None
        self._slave: int | None = None
        self._pty_path: str | None = None
        self._generation = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._toggle = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._pulled_at: float | None = None
        self._started_at = 0.0

    @property
    def path(self) -> str:
        """The path clients open: the link if there is one, else the terminal."""
        if self.link is not None:
            return str(self.link)
        if self._pty_path is None:
            raise RuntimeError("the emulator is not serving; call start() first")
        return self._pty_path

    @property
    def pty_path(self) -> str | None:
        """The current terminal's ``/dev/pts/N``, or None while the cable is out."""
        return self._pty_path

    @property
    def cable_connected(self) -> bool:
        return self._master is not None

    def start(self) -> str:
        """Open the terminal and serve in a background thread; returns :attr:`path`."""
        if self._thread is not None:
            return self.path
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._started_at = time.monotonic()
        self.plug_cable()
        self._thread = threading.Thread(target=self._serve, name="bus-emulator", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        """Stop serving and close everything; safe to call twice."""
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5.0)
        self._thread = None
        with self.lock:
            self._close_pty()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def pull_cable(self) -> None:
        """Close the terminal, as if the USB cable were pulled; the servos keep going."""
        with self.lock:
            if self._master is None:
                return
            self._close_pty()
            self._pulled_at = time.monotonic()
            self.stats.pulls += 1
        log.info("cable pulled")
        self._wake()

    def plug_cable(self) -> None:
        """Open a new terminal (and re-point the link at it), as if plugged back in."""
        with self.lock:
            if self._master is not None:
                return
            master, slave = pty.openpty()
            tty.setraw(slave)
            self._pty_path = os.ttyname(slave)
            if self.link is not None:
                tmp = self.link.with_name(self.link.name + ".new")
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.symlink(self._pty_path, tmp)
                os.replace(tmp, self.link)
            self._generation += 1
            self._pulled_at = None
            self._master, self._slave = master, slave  # last: now cable_connected is True
        log.info(
            "serving %d servo(s) on %s%s",
            len(self.servos),
            self._pty_path,
            f" (link {self.link})" if self.link is not None else "",
        )
        self._wake()

    def toggle_cable(self) -> None:
        """Pull or plug the cable from the serving thread; safe in a signal handler."""
        self._toggle.set()
        self._wake()

    def move_by_hand(self, servo_id: int, position: float) -> None:
        """Move one shaft to ``position`` [ticks], as a person moving the arm would."""
        with self.lock:
            self.servos[servo_id].move_by_hand(position)

    def set_error(self, servo_id: int, error_bits: int) -> None:
        """Make one servo report ``error_bits`` in every status packet (0 clears)."""
        with self.lock:
            self.servos[servo_id].injected_error = error_bits

    def set_obstacle(self, servo_id: int, position: int | None) -> None:
        """Put an obstacle at ``position`` [ticks] in one servo's path (None removes it)."""
        with self.lock:
            servo = self.servos[servo_id]
            servo.advance(time.monotonic())
            servo.physics = dataclasses.replace(servo.physics, obstacle=position)

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._pty_path = None
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def _serve(self) -> None:
        buf = bytearray()
        generation = -1
        while not self._stop.is_set():
            self._run_timers()
            master = self._master
            if self._generation != generation:
                buf.clear()
                generation = self._generation
            fds = [self._wake_r] if master is None else [self._wake_r, master]
            try:
                ready, _, _ = select.select(fds, [], [], _POLL_S)
            except (OSError, ValueError):
                continue  # the cable was pulled under select()
            if self._wake_r in ready:
                os.read(self._wake_r, 64)
            if master is None or master not in ready:
                continue
            with self.lock:
                if self._generation != generation:
                    continue
                try:
                    data = os.read(master, 4096)
                except OSError:
                    continue
                buf += data
                self._handle_buffer(buf, master)

    def _handle_buffer(self, buf: bytearray, master: int) -> None:
        pos = 0
        while True:
            packet, pos = codec.next_packet(buf, pos)
            if packet is None:
                break
            t_rx = time.monotonic()
            self.stats.requests += 1
            replies = respond(self.servos, packet, t_rx)
            out = b"".join(self._with_faults(r) for r in replies)
            if out:
                self._send(master, out, t_rx, len(packet.params) + codec.STATUS_OVERHEAD)
        del buf[:pos]

    def _with_faults(self, reply: bytes) -> bytes:
        f = self.faults
        if f.drop_probability and self._rng.random() < f.drop_probability:
            self.stats.dropped += 1
            return b""
        self.stats.replies += 1
        if f.corrupt_probability and self._rng.random() < f.corrupt_probability:
            self.stats.corrupted += 1
            return reply[:-1] + bytes(((reply[-1] + 1) & 0xFF,))
        return reply

    def _send(self, master: int, out: bytes, t_rx: float, request_bytes: int) -> None:
        due = t_rx + self.faults.delay_s
        if self.wire_timing:
            due += wire_time_s(request_bytes + len(out), self.baudrate)
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        with contextlib.suppress(OSError):
            os.write(master, out)

    def _run_timers(self) -> None:
        f, now = self.faults, time.monotonic()
        if self._toggle.is_set():
            self._toggle.clear()
            if self.cable_connected:
                self.pull_cable()
            else:
                self.plug_cable()
        elif (
            f.pull_after_s is not None
            and self.cable_connected
            and self.stats.pulls == 0
            and now - self._started_at >= f.pull_after_s
        ):
            self.pull_cable()
        elif (
            f.return_after_s is not None
            and self._pulled_at is not None
            and now - self._pulled_at >= f.return_after_s
        ):
            self.plug_cable()


def _serve_child(conn: Connection, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with BusEmulator(*args, **kwargs) as emu:
        conn.send(emu.path)
        conn.recv()  # until the parent says stop, or goes away


@contextlib.contextmanager
def emulator_process(*args: Any, **kwargs: Any) -> Iterator[str]:
    """Serve a :class:`BusEmulator` in a child process and yield the path to open.

    Like a real bus, it then shares no interpreter lock with the client, so a client
    that busy-waits (the vendor SDK does) or a benchmark cannot starve it. Takes
    :class:`BusEmulator`'s arguments; the servos cannot be reached from the parent.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve_child, args=(child, args, kwargs), daemon=True, name="bus-emulator"
    )
    proc.start()
    try:
        if not parent.poll(60.0):
            raise RuntimeError("the bus emulator process did not start within 60 s")
        yield parent.recv()
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        proc.join(timeout=10.0)
        if proc.is_alive():
            proc.terminate()
