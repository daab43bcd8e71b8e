"""Where the station keeps its own per-episode files in a dataset, and how it writes them.

Everything lives under ``meta/station/``, which LeRobot neither reads nor deletes::

    meta/station/keys/<key_id>.pem                 public keys of the signing stations
    meta/station/robot.json                        joint names and position limits
    meta/station/quality/episode_NNNNNN.json       score and every check's verdict
    meta/station/fingerprints/episode_NNNNNN.json  content hash, trajectory, thumbnails
    meta/station/manifests/episode_NNNNNN.json     the signed manifest

Files are written whole: a temp file with a unique name in the same directory, fsync,
``os.replace``, fsync of the directory. Two threads may write the same file at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from teleop.quality.episode_data import STATION_DIR

KEYS_DIR = STATION_DIR / "keys"
QUALITY_DIR = STATION_DIR / "quality"
FINGERPRINTS_DIR = STATION_DIR / "fingerprints"
MANIFESTS_DIR = STATION_DIR / "manifests"


def episode_file(directory: Path, index: int) -> Path:
    """``<directory>/episode_NNNNNN.json``, relative to the dataset root."""
    return directory / f"episode_{index:06d}.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """SHA-256 (hex) and size in [bytes] of a file."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (durable once this returns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, doc: Any, indent: int | None = 2) -> None:
    """Atomically replace ``path`` with ``doc`` as JSON (sorted keys)."""
    write_bytes(path, (json.dumps(doc, indent=indent, sort_keys=True) + "\n").encode())
