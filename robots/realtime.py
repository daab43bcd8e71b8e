"""Where time-critical work runs: thread priority and the CPUs of helper processes.

On a loaded machine a thread that is ready to run can still wait for a core behind
the network and encoder threads. Where the process may (root, or CAP_SYS_NICE), a
time-critical thread asks for the ``SCHED_FIFO`` real-time class; otherwise it asks
for a lower nice value, and if even that is refused it runs as it is.

Priority alone does not keep the server's network thread prompt: it applies each
command as it arrives, and once preempted by the sim's renderer (which keeps every core
busy while it draws) it waits milliseconds for a core. So the sim's helper processes
leave the first CPU to the server (:func:`leave_first_cpu`).
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


def leave_first_cpu(what: str) -> set[int]:
    """Move the calling process off the first CPU it may use, if it may use several.

    Every thread moves (numpy's BLAS pool is already up when a helper process starts),
    and threads started later inherit the set. On a 2-core machine the sim's processes
    then share one core, and the server always finds a core the sim is not on: with
    the cameras on, the p99 of the server-added latency fell from 1.4-1.8 ms to about
    0.5 ms (``teleop bench relay``). Nothing changes on a single CPU.

    Args:
        what: The process's role, for the log line.

    Returns:
        The CPUs the process now runs on.
    """
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        return cpus
    rest = cpus - {min(cpus)}
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]  # no /proc: this thread, and the threads it starts
    try:
        for tid in threads:
            os.sched_setaffinity(tid, rest)
    except OSError as exc:
        log.info("%s stays on CPUs %s: %s", what, sorted(cpus), exc)
        return cpus
    log.info("%s runs on CPUs %s, leaving CPU %d to the server", what, sorted(rest), min(cpus))
    return rest
