"""The one place that imports PyBullet, so that its banner stays off the terminal.

Importing ``pybullet`` makes its C code write "pybullet build time: ..." to the
process's stderr, and the EGL plugin writes its device choice when it loads. The server
and the sim's two helper processes each import PyBullet, so that was four lines of noise
at every start. Modules of this package take PyBullet from here::

    from robots.bullet import pybullet as pb
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """Send what is written to file descriptor 2 meanwhile to ``/dev/null``.

    The redirection is process-wide, Python's own ``sys.stderr`` included: keep the
    window to one C call, at start-up.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with c_stderr_silenced():
    import pybullet

__all__ = ["c_stderr_silenced", "pybullet"]
