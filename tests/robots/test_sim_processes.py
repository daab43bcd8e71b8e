"""The realtime sim's helper processes: the physics process and the render process.

The arm's physics and its cameras run in child processes of whoever made the arm. These
tests hold them to what a user relies on: a dead physics process is an error, not a
frozen arm; reconnecting brings it back; and children never outlive a killed parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from timing import MS

from robots.base import RobotIOError
from robots.sim import SimRobot


def test_realtime_arm_steps_on_its_own_and_reset_restores_the_scene() -> None:
    with SimRobot(cameras=(), seed=3) as arm:
        placed = arm.object_poses()
        steps = arm.physics_steps
        time.sleep(500 * MS)
        assert arm.physics_steps - steps > 60  # 240 Hz, with slack for a busy machine
        target = arm.read().q
        target[0] += 0.6
        arm.command(target)
        time.sleep(1000 * MS)
        assert abs(arm.read().q[0] - target[0]) < 0.05
        arm.reset()
        home = arm.read()
        assert abs(home.q[0] - target[0]) > 0.3, "reset() did not home the arm"
        for name, (pos, _) in arm.object_poses().items():
            assert np.allclose(pos, placed[name][0], atol=0.01), name


def test_a_dead_physics_process_is_an_error_and_reconnect_recovers() -> None:
    arm = SimRobot(cameras=())
    arm.connect()
    try:
        physics = arm._physics
        assert physics is not None
        os.kill(physics._process.pid, signal.SIGKILL)
        physics._process.join(timeout=5.0)
        time.sleep(100 * MS)  # the last published state ages past the liveness check
        with pytest.raises(RobotIOError, match="physics process has stopped"):
            arm.read()
        arm.disconnect()
        arm.connect()
        state = arm.read()
        assert time.monotonic_ns() - state.t_ns < 100_000_000
    finally:
        arm.disconnect()


CHILD = textwrap.dedent(
    """
    import sys, time
    from robots.sim import SimRobot
    arm = SimRobot(cameras=("front",))
    arm.connect()
    arm.cameras["front"].wait_newer(-1, timeout_s=30.0)
    print(arm._physics._process.pid, arm._render._process.pid, flush=True)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_helper_processes_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, "the sim did not start"
        children = [int(p) for p in line.split()]
        parent.kill()
        parent.wait(timeout=5.0)
        deadline = time.monotonic() + 10_000 * MS
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in children if _alive(pid)]
        assert not left, f"orphaned sim processes still running: {left}"
    finally:
        parent.kill()


def cpus_of_every_thread(pid: int) -> dict[int, set[int]]:
    """The CPUs each thread of a process may run on, by thread id.

    Background threads (SCHED_BATCH or SCHED_IDLE, such as Mesa's shader-cache writer,
    which picks its own CPUs) are left out: they give way to every normal thread.
    """
    threads = {}
    for tid in map(int, os.listdir(f"/proc/{pid}/task")):
        if os.sched_getscheduler(tid) in (os.SCHED_OTHER, os.SCHED_FIFO, os.SCHED_RR):
            threads[tid] = os.sched_getaffinity(tid)
    return threads


def test_the_sim_leaves_the_first_cpu_to_the_server() -> None:
    # The server's network thread applies commands as they arrive; the renderer's threads
    # keep every core they may use busy, so they stay off one core (teleop bench relay).
    ours = os.sched_getaffinity(0)
    with SimRobot(seed=1) as arm:
        assert arm.cameras, "the default sim arm has cameras (and so a render process)"
        next(iter(arm.cameras.values())).wait_newer(-1, timeout_s=30.0)  # EGL threads are up
        assert arm._physics is not None and arm._render is not None
        children = {"physics": arm._physics._process.pid, "render": arm._render._process.pid}
        for role, pid in children.items():
            assert pid is not None
            threads = cpus_of_every_thread(pid)
            assert threads, role
            for tid, cpus in threads.items():
                if len(ours) >= 2:
                    assert cpus == ours - {min(ours)}, f"{role} thread {tid} runs on {cpus}"
                else:
                    assert cpus == ours, f"{role} thread {tid} runs on {cpus}"
        assert len(cpus_of_every_thread(arm._render._process.pid)) > 1  # BLAS's pool too
    assert os.sched_getaffinity(0) == ours  # the server itself keeps every CPU
