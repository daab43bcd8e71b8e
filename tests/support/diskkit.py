"""Small disks for the disk tests: a size-limited (or read-only) tmpfs, and a way to fill it.

Mounting needs root; CI runs as root, so a test that cannot mount fails rather than skips.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_BLOCK = 1 << 20
_PAGE = 4096


@contextlib.contextmanager
def small_disk(mount: Path, size_mib: int, read_only: bool = False) -> Iterator[Path]:
    """Mount a ``size_mib`` tmpfs on ``mount`` (created here) for the ``with`` block."""
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("needs root to mount a size-limited tmpfs (CI runs as root)")
    options = f"ro,size={size_mib}m" if read_only else f"size={size_mib}m"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Take every free byte of the file system holding ``path``, into the file ``path``.

    The recorder keeps writing while this runs, so the free space is never measured up
    front: blocks are appended until one does not fit, then pages until none does.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (_BLOCK, _PAGE):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
