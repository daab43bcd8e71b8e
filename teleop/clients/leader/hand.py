"""An emulated arm in its own process, moved by a scripted hand: for tests and benchmarks.

``robots.serial.emulator.emulator_process`` serves a bus from a child process but gives
the parent only its path. A leader arm is moved by a person, and the process that holds
its port (the leader client) cannot write to it; so this child also takes orders over a
pipe: move shafts by hand (:meth:`EmulatedArm.move`), sweep them along sines, pull or
plug the cable, and read back the servos' registers.

The emulator runs in a child process, never as a thread of the client's or the server's
process, because a thread there competes for that interpreter's lock and starves on a
loaded machine. With ``realtime=True`` (the default) its threads also ask for the
``SCHED_FIFO`` class, above the servers' own real-time threads, where the process may: a
real bus is a device with its own timing, and the point is to test and measure the host,
not an emulator that waits for a core.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Mapping
from multiprocessing.connection import Connection
from typing import Any

from robots.serial import registers as reg
from robots.serial.emulator import BusEmulator

Sweep = tuple[float, float, float]
"""(centre [ticks], amplitude [ticks], period [s]) of one shaft's sine."""
_SWEEP_DT_S = 0.005
_FIFO_PRIORITY = 30
"""Above the control loops and sim physics (``robots.realtime``, 10) of any server on
the machine: the emulator stands for hardware, and its work per packet is microseconds."""


class EmulatedArm:
    """The parent's handle on an emulator served by :func:`emulated_arm`.

    Attributes:
        path: The device path to open (the link, if one was asked for).
    """

    def __init__(self, conn: Connection, path: str, timeout_s: float = 10.0) -> None:
        self._conn = conn
        self.path = path
        self._timeout_s = timeout_s

    def move(self, positions: Mapping[int, float]) -> None:
        """Put shafts at ``positions`` [ticks] by id, as a hand would."""
        self._call("move", dict(positions))

    def sweep(self, sweeps: Mapping[int, Sweep]) -> None:
        """Move shafts along sines (id -> centre, amplitude [ticks], period [s]) until
        :meth:`stop_sweep`."""
        self._call("sweep", dict(sweeps))

    def stop_sweep(self) -> None:
        self._call("stop_sweep")

    def positions(self) -> dict[int, float]:
        """Every shaft's position [ticks] by id."""
        result: dict[int, float] = self._call("positions")
        return result

    def register(self, servo_id: int, register: reg.Register) -> int:
        """One servo's register, as its control table holds it now."""
        value: int = self._call("register", servo_id, register.name)
        return value

    def pull_cable(self) -> None:
        self._call("pull_cable")

    def plug_cable(self) -> None:
        self._call("plug_cable")

    def _call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        if not self._conn.poll(self._timeout_s):
            raise TimeoutError(f"the emulator did not answer {name} in {self._timeout_s} s")
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"emulator {name}{args} failed: {value}")
        return value


@contextlib.contextmanager
def emulated_arm(servos: int = 6, *, realtime: bool = True, **kwargs: Any) -> Iterator[EmulatedArm]:
    """Serve a :class:`BusEmulator` in a child process; yield a handle that moves it.

    Args:
        servos: Servo count (ids 1..N).
        realtime: Ask for ``SCHED_FIFO`` for the emulator's threads (best effort).
        **kwargs: :class:`BusEmulator`'s keyword arguments (``positions``, ``link``,
            ``baudrate``, ``faults``, ``physics``, ``seed``).
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve_child,
        args=(child, servos, kwargs, realtime),
        daemon=True,
        name="emulated-arm",
    )
    proc.start()
    try:
        if not parent.poll(60.0):
            raise RuntimeError("the emulated arm's process did not start within 60 s")
        yield EmulatedArm(parent, parent.recv())
    finally:
        with contextlib.suppress(OSError):
            parent.send(None)
        proc.join(timeout=10.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5.0)


class _Hand:
    """Runs in the child: carries out the parent's orders on the emulator."""

    def __init__(self, emu: BusEmulator, realtime: bool) -> None:
        self.emu = emu
        self.realtime = realtime
        self._sweeps: dict[int, Sweep] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def move(self, positions: dict[int, float]) -> None:
        for servo_id, position in positions.items():
            self.emu.move_by_hand(servo_id, position)

    def sweep(self, sweeps: dict[int, Sweep]) -> None:
        self.stop_sweep()
        self._sweeps = sweeps
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_sweep, name="hand", daemon=True)
        self._thread.start()

    def stop_sweep(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def positions(self) -> dict[int, float]:
        with self.emu.lock:
            now = time.monotonic()
            for servo in self.emu.servos.values():
                servo.advance(now)
            return {i: s.position for i, s in self.emu.servos.items()}

    def register(self, servo_id: int, name: str) -> int:
        register = next(r for r in reg.REGISTERS if r.name == name)
        with self.emu.lock:
            return self.emu.servos[servo_id].get(register)

    def pull_cable(self) -> None:
        self.emu.pull_cable()

    def plug_cable(self) -> None:
        self.emu.plug_cable()

    def _run_sweep(self) -> None:
        if self.realtime:
            _ask_fifo(threading.get_native_id())
        t0 = time.monotonic()
        while not self._stop.wait(_SWEEP_DT_S):
            t = time.monotonic() - t0
            self.move(
                {i: c + a * math.sin(2 * math.pi * t / p) for i, (c, a, p) in self._sweeps.items()}
            )


def _serve_child(conn: Connection, servos: int, kwargs: dict[str, Any], realtime: bool) -> None:
    with BusEmulator(servos, **kwargs) as emu:
        if realtime:
            for tid in _threads():
                _ask_fifo(tid)
        hand = _Hand(emu, realtime)
        conn.send(emu.path)
        try:
            _obey(conn, hand)
        finally:
            hand.stop_sweep()


def _obey(conn: Connection, hand: _Hand) -> None:
    """Carry out orders until the parent says stop (None) or goes away."""
    while True:
        try:
            order = conn.recv()
        except (EOFError, OSError):
            return
        if order is None:
            return
        name, args = order
        try:
            conn.send(("ok", getattr(hand, name)(*args)))
        except Exception as exc:  # the parent raises it, with the child's message
            conn.send(("error", repr(exc)))


def _threads() -> list[int]:
    """This process's thread ids (Linux); none where /proc is missing."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return []


def _ask_fifo(tid: int) -> None:
    """Ask for SCHED_FIFO for one thread; stay as it is where that is not allowed."""
    with contextlib.suppress(AttributeError, PermissionError, OSError):
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(_FIFO_PRIORITY))
