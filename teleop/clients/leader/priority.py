"""The relay loop's thread priority, raised while it runs and put back afterwards.

The leader relay is a time-critical loop like the server's control loop: on a busy
machine an ordinary thread can wait tens of milliseconds for a core, which is a late
tick and, past 150 ms, a watchdog stop. So, like the server's loop, it asks
``robots.realtime`` for ``SCHED_FIFO`` (or a lower nice value) where the process may, and
runs as it is where it may not. The old policy is restored when the loop ends, so that a
program (or a test) that runs the app in its main thread gets that thread back as it was.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from robots.realtime import raise_thread_priority


@contextlib.contextmanager
def time_critical(enabled: bool = True) -> Iterator[str]:
    """Raise the calling thread's priority for the block; yield what it got.

    Yields:
        ``"fifo"``, ``"nice"`` or ``"normal"`` (``"off"`` when not enabled).
    """
    if not enabled or not hasattr(os, "sched_getscheduler"):
        yield "off"
        return
    tid = threading.get_native_id()
    policy, param = os.sched_getscheduler(tid), os.sched_getparam(tid)
    nice = os.getpriority(os.PRIO_PROCESS, tid)
    got = raise_thread_priority("leader relay loop")
    try:
        yield got
    finally:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, policy, param)
            os.setpriority(os.PRIO_PROCESS, tid, nice)
