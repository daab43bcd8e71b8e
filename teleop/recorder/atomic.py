"""Durable file writes: temp file in the same directory, fsync, ``os.replace``, fsync dir.

A reader sees the old file or the new one, never a mix, and after the directory's fsync
the new one survives a power cut. Temp names end in ``.tmp`` so that LeRobot's
``*.parquet`` globs never pick up a half-written file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def fsync_dir(path: Path) -> None:
    """fsync a directory so that entries created or renamed in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path(path: Path) -> Path:
    """The temp file used to write ``path``: hidden, same directory, ends in ``.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def publish(tmp: Path, path: Path) -> None:
    """Rename a written, fsynced ``tmp`` onto ``path`` and fsync the directory."""
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, doc: Any) -> None:
    """Atomically replace ``path`` with ``doc`` as indented JSON."""
    write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode())


def write_table(path: Path, table: pa.Table) -> None:
    """Atomically replace ``path`` with ``table`` as a parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_bytes(path, sink.getvalue().to_pybytes())
