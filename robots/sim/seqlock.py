"""A shared-memory block guarded by a sequence counter, for one writer and many readers.

The writer makes the counter odd, writes, then makes it even; a reader retries if the
counter was odd or changed while it copied. Nobody ever waits on a lock, so a reader in
the control loop never blocks on a slow writer in another process.
"""

from __future__ import annotations

import contextlib
import time
from multiprocessing import resource_tracker, shared_memory
from typing import Any

import numpy as np

from robots.base import RobotIOError


class SeqLockBuffer:
    """A shared-memory block: int64 header ``[seq, *fields]`` then a payload array."""

    def __init__(
        self, n_fields: int, shape: tuple[int, ...], dtype: Any, name: str | None = None
    ) -> None:
        header = 8 * (1 + n_fields)
        size = header + int(np.prod(shape)) * np.dtype(dtype).itemsize
        self.owner = name is None
        self.shm = shared_memory.SharedMemory(name=name, create=self.owner, size=size)
        if not self.owner:
            # Python 3.11 tracks attached blocks too, as if this process owned them, and
            # unlinks them when it exits. The creator alone owns a block here.
            resource_tracker.unregister(self.shm._name, "shared_memory")  # type: ignore[attr-defined]
        self.header = np.ndarray((1 + n_fields,), dtype=np.int64, buffer=self.shm.buf)
        self.payload = np.ndarray(shape, dtype=dtype, buffer=self.shm.buf, offset=header)
        if self.owner:
            self.header[:] = 0

    @property
    def name(self) -> str:
        return self.shm.name

    def write(self, fields: tuple[int, ...], payload: np.ndarray) -> None:
        self.header[0] += 1
        self.header[1:] = fields
        self.payload[...] = payload
        self.header[0] += 1

    def read(self) -> tuple[int, tuple[int, ...], np.ndarray] | None:
        """``(seq, fields, payload copy)``, or None if nothing was ever written."""
        for _ in range(1000):
            seq = int(self.header[0])
            if seq == 0:
                return None
            if seq % 2 == 0:
                fields = tuple(int(v) for v in self.header[1:])
                payload = self.payload.copy()
                if int(self.header[0]) == seq:
                    return seq, fields, payload
            time.sleep(0)
        raise RobotIOError("shared-memory channel stayed busy; the writer may have died")

    def seq(self) -> int:
        return int(self.header[0])

    def close(self) -> None:
        # Drop the numpy views first: SharedMemory cannot close while they export buf.
        del self.header, self.payload
        self.shm.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                self.shm.unlink()
