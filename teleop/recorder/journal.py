"""The append-only episode journal: msgpack records, flushed and fsynced on a period.

One journal file per episode in progress, ``journal/<episode-dir>/rows.msgpack``. Each
record is a two-item list ``[kind, payload]``:

- ``["header", {...}]`` first: task, operator, fps, features, codec, cameras, ids;
- ``["row", [...]]``: one row (:meth:`teleop.recorder.rows.Row.to_record`);
- ``["counts", {...}]``: the episode's running counters (the last one wins);
- ``["end", {...}]``: written by a clean ``stop()`` before the episode is published.

A kill can cut the last record short: :func:`read_journal` stops at the first record
that does not decode and says how many bytes it ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

from teleop.recorder.atomic import fsync_dir
from teleop.recorder.errors import JournalError
from teleop.recorder.rows import Row

log = logging.getLogger(__name__)

JOURNAL_NAME = "rows.msgpack"
JOURNAL_VERSION = 1
_STOP = object()


class JournalWriter:
    """Appends records from any thread; its own thread writes, flushes and fsyncs them.

    The header is written and fsynced in the constructor, so an unwritable directory or a
    full disk fails there, in the caller's thread. Later write errors stop the journal and
    appear in :attr:`error`; records are then dropped (the episode is failing anyway).

    Args:
        path: The journal file to create (it must not exist).
        header: The header record's payload.
        flush_interval_s: Flush + fsync period in [s].
    """

    def __init__(self, path: Path, header: dict[str, Any], flush_interval_s: float) -> None:
        self.path = path
        self._interval_s = flush_interval_s
        self._packer = msgpack.Packer(use_bin_type=True)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.error: str | None = None
        self.records = 0
        self.synced_records = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._file = os.fdopen(fd, "wb", buffering=0)
        try:
            self._file.write(self._packer.pack(["header", {"version": JOURNAL_VERSION, **header}]))
            os.fsync(fd)
            fsync_dir(path.parent)
        except BaseException:
            self._file.close()
            raise
        self._thread = threading.Thread(target=self._run, name="recorder-journal", daemon=True)
        self._thread.start()

    def append(self, kind: str, payload: Any) -> None:
        """Queue a record; never blocks."""
        self._queue.put([kind, payload])

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, fsync, close. Check :attr:`error` afterwards."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self.error = self.error or f"journal writer did not finish within {timeout_s} s"

    def _run(self) -> None:
        pending: list[bytes] = []
        count = 0
        last_sync = time.monotonic()
        stopping = False
        while not stopping:
            timeout = max(0.0, self._interval_s - (time.monotonic() - last_sync))
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                stopping = True
            elif item is not None and self.error is None:
                pending.append(self._packer.pack(item))
                count += 1
            if stopping or time.monotonic() - last_sync >= self._interval_s:
                self._sync(pending, count)
                pending, count = [], 0
                last_sync = time.monotonic()
        self._file.close()

    def _sync(self, pending: list[bytes], count: int) -> None:
        if self.error is not None:
            return
        try:
            if pending:
                self._file.write(b"".join(pending))
            os.fsync(self._file.fileno())
        except OSError as exc:
            self.error = f"journal {self.path}: {exc.strerror or exc}"
            log.error("recording journal write failed: %s", self.error)
            return
        self.records += count
        self.synced_records = self.records


@dataclasses.dataclass
class JournalContents:
    """What a journal holds.

    Attributes:
        header: The header record's payload.
        rows: Every complete row record, in order.
        counts: The last counters record (empty if none was written).
        end: The end record's payload, or None if the episode was not stopped cleanly.
        bytes_ignored: Trailing bytes that did not decode (a record cut by a kill).
    """

    header: dict[str, Any]
    rows: list[Row]
    counts: dict[str, Any]
    end: dict[str, Any] | None
    bytes_ignored: int


def read_journal(path: Path) -> JournalContents:
    """Read a journal, tolerating a truncated or damaged tail.

    Raises:
        JournalError: The file cannot be read or has no valid header.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from exc
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    records: list[Any] = []
    used = 0
    try:
        for rec in unpacker:
            records.append(rec)
            used = unpacker.tell()
    except (msgpack.UnpackException, ValueError, TypeError):
        pass
    if not records or not isinstance(records[0], list) or records[0][:1] != ["header"]:
        raise JournalError(f"journal {path} has no header record; it is not a recorder journal")
    contents = JournalContents(records[0][1], [], {}, None, len(data) - used)
    for rec in records[1:]:
        try:
            kind, payload = rec
            if kind == "row":
                contents.rows.append(Row.from_record(payload))
            elif kind == "counts":
                contents.counts = dict(payload)
            elif kind == "end":
                contents.end = dict(payload)
        except (TypeError, ValueError):
            log.warning("journal %s: stopped at a damaged record", path)
            break
    return contents
