"""Thread priority for time-critical threads (the control loop, the sim's physics).

On a loaded machine a thread that is ready to run can still wait for a core behind
the network and encoder threads. Where the process may (root, or CAP_SYS_NICE), a
time-critical thread asks for the ``SCHED_FIFO`` real-time class; otherwise it asks
for a lower nice value, and if even that is refused it runs as it is.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

FIFO_PRIORITY = 10
"""Low among real-time priorities: above every normal thread, below kernel threads."""


def raise_thread_priority(what: str) -> str:
    """Raise the calling thread's scheduling priority as far as allowed.

    Args:
        what: The thread's role, for the log line.

    Returns:
        ``"fifo"``, ``"nice"`` or ``"normal"``: what the thread got.
    """
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
        got = "fifo"
    except (AttributeError, PermissionError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, -5)
            got = "nice"
        except (AttributeError, PermissionError, OSError):
            got = "normal"
    log.info("%s thread scheduling: %s", what, got)
    return got
