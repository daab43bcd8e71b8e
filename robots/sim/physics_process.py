"""The realtime sim's physics in its own process, so stepping never holds the server's GIL.

A PyBullet step with 150 solver iterations takes 0.2 ms with the arm in free space and
more in contact, and PyBullet holds the GIL throughout. In a thread of the server
process, every step delayed the control loop's handling of a fresh command. Here the
child process owns the ``SimWorld`` and steps it at 240 Hz on absolute deadlines; the
parent only touches shared memory:

- ``StateChannel``: the child publishes the state after every step (a seqlock);
- ``TargetChannel``: the parent writes the newest joint target; the child applies it
  before its next step;
- the scene snapshot for the render process (see ``robots.sim.render``), written by the
  child once the parent has started the renderer.

Slow, rare requests (reset, object poses, attaching the renderer) go over a pipe and are
answered between two steps. The child exits when told to, or when the pipe reports that
the parent has gone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import threading
import time
import traceback
from typing import Any

import numpy as np

from robots.base import FloatArray, RobotConfigError, RobotIOError, RobotSpec, RobotState
from robots.realtime import leave_first_cpu, raise_thread_priority
from robots.sim.arms import arm_model
from robots.sim.child import ChildProcess
from robots.sim.physics import STEP_NS, SimWorld
from robots.sim.render import SnapshotChannel
from robots.sim.seqlock import SeqLockBuffer

log = logging.getLogger(__name__)

MAX_CATCH_UP_STEPS = 24
"""Physics steps run back to back to catch up after a stall (0.1 s of sim time)."""
START_TIMEOUT_S = 60.0
"""Starting the child (imports, scene build) takes about a second on a quiet machine."""
REQUEST_TIMEOUT_S = 10.0
STALE_NS = 50_000_000
"""A state older than this [ns] makes ``read()`` check that the child still lives."""


class StateChannel(SeqLockBuffer):
    """Child to parent: header ``[seq, t_ns, steps, late_steps]``, then the state's numbers.

    The payload is ``q, dq, tau`` (``dof`` each), ``ee_force`` (3), ``grasp_force`` (1).
    """

    def __init__(self, dof: int, name: str | None = None) -> None:
        super().__init__(3, (3 * dof + 4,), np.float64, name)
        self.dof = dof

    def publish(self, state: RobotState, steps: int, late_steps: int) -> None:
        payload = np.concatenate(
            [state.q, state.dq, state.tau, state.ee_force, [state.grasp_force]]
        )
        self.write((state.t_ns, steps, late_steps), payload)

    def newest(self) -> tuple[RobotState, int, int] | None:
        """``(state, steps, late_steps)``, or None before the first publish."""
        got = self.read()
        if got is None:
            return None
        _, (t_ns, steps, late), values = got
        n = self.dof
        state = RobotState(
            t_ns=t_ns,
            q=values[:n],
            dq=values[n : 2 * n],
            tau=values[2 * n : 3 * n],
            ee_force=values[3 * n : 3 * n + 3],
            grasp_force=float(values[-1]),
        )
        return state, steps, late


class TargetChannel(SeqLockBuffer):
    """Parent to child: header ``[seq]``, payload the newest joint target."""

    def __init__(self, dof: int, name: str | None = None) -> None:
        super().__init__(0, (dof,), np.float64, name)


class PhysicsProcess:
    """Starts, talks to and stops the physics process of one realtime sim arm.

    Args:
        arm: Name of the sim arm (see ``robots.sim.arms.ARMS``).
        spec: The arm's public spec (effort and velocity limits drive the motors).
        seed: Seed of the first object placement.
        gui: Open a PyBullet window in the child.
    """

    def __init__(self, arm: str, spec: RobotSpec, seed: int, gui: bool) -> None:
        self.states = StateChannel(spec.dof)
        self.targets = TargetChannel(spec.dof)
        self._write_lock = threading.Lock()  # one writer at a time on the target seqlock
        self._request_lock = threading.Lock()  # one request on the pipe at a time
        self._process = ChildProcess(
            f"{__name__}:physics_main",
            (arm, spec, seed, gui, self.states.name, self.targets.name),
            "sim physics",
        )
        self._conn: multiprocessing.connection.Connection | None = None
        self.snapshot_size = 0

    def start(self) -> None:
        """Start the child and wait until its first state is published.

        Raises:
            RobotConfigError: The child could not build the world (e.g. GUI without a
                display).
            RobotIOError: The child did not start in time.
        """
        self._conn = self._process.start()
        reply = self._reply("start", START_TIMEOUT_S)
        self.snapshot_size = int(reply)

    def attach_renderer(self, snapshot_channel: str) -> None:
        """Have the child publish a scene snapshot after every step into this channel."""
        self._request("render", snapshot_channel)

    def read(self) -> tuple[RobotState, int, int]:
        """The newest ``(state, steps since reset, late steps)``.

        Raises:
            RobotIOError: The physics process has stopped.
        """
        got = self.states.newest()
        assert got is not None, "start() returns only after the first state"
        # A live child publishes every 4 ms; ask the OS only when the state has aged.
        if time.monotonic_ns() - got[0].t_ns > STALE_NS and not self._process.is_alive():
            raise RobotIOError(
                f"the sim physics process has stopped (exit code {self._process.exitcode}); "
                "reconnect the robot"
            )
        return got

    def send(self, q: FloatArray) -> None:
        """Make ``q`` the target the child applies before its next step."""
        with self._write_lock:
            self.targets.write((), q)

    def reset(self, seed: int) -> None:
        """Home the arm and place the objects; the new state is published on return."""
        self._request("reset", seed)

    def object_poses(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        poses: dict[str, tuple[FloatArray, FloatArray]] = self._request("poses", None)
        return poses

    def stop(self) -> None:
        """Stop the child (killing it if it does not answer) and free the shared memory."""
        if self._process.is_alive() and self._conn is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(("stop", None))
            self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2.0)
        if self._conn is not None:
            self._conn.close()
        self.states.close()
        self.targets.close()

    def _pipe(self) -> multiprocessing.connection.Connection:
        if self._conn is None:
            raise RobotIOError("the sim physics process was not started")
        return self._conn

    def _request(self, what: str, arg: Any) -> Any:
        with self._request_lock:
            try:
                self._pipe().send((what, arg))
            except (OSError, ValueError) as exc:
                raise RobotIOError(f"the sim physics process is gone: {exc}") from exc
            return self._reply(what, REQUEST_TIMEOUT_S)

    def _reply(self, what: str, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        conn = self._pipe()
        while not conn.poll(0.05):
            if not self._process.is_alive():
                raise RobotIOError(
                    f"the sim physics process died during {what} "
                    f"(exit code {self._process.exitcode})"
                )
            if time.monotonic() > deadline:
                raise RobotIOError(
                    f"the sim physics process did not answer {what} in {timeout_s:.0f} s"
                )
        try:
            status, value = conn.recv()
        except (EOFError, OSError) as exc:
            raise RobotIOError(f"the sim physics process is gone during {what}") from exc
        if status == "config-error":
            raise RobotConfigError(value)
        if status == "error":
            raise RobotIOError(f"the sim physics process failed during {what}: {value}")
        return value


def physics_main(
    arm: str,
    spec: RobotSpec,
    seed: int,
    gui: bool,
    states_name: str,
    targets_name: str,
    conn: multiprocessing.connection.Connection,
) -> None:
    """Entry point of the physics process."""
    leave_first_cpu("sim physics")
    states = StateChannel(spec.dof, states_name)
    targets = TargetChannel(spec.dof, targets_name)
    try:
        world = SimWorld(arm_model(arm), spec, gui=gui)
        world.reset(seed)
    except RobotConfigError as exc:
        conn.send(("config-error", str(exc)))
        return
    except Exception:
        conn.send(("error", traceback.format_exc(limit=3)))
        return
    try:
        _StepLoop(world, states, targets, conn).run()
    finally:
        world.close()
        states.close()
        targets.close()


class _StepLoop:
    """The child's loop: apply the newest target, step, publish, answer requests."""

    def __init__(
        self,
        world: SimWorld,
        states: StateChannel,
        targets: TargetChannel,
        conn: multiprocessing.connection.Connection,
    ) -> None:
        self.world = world
        self.states = states
        self.targets = targets
        self.conn = conn
        self.snapshots: SnapshotChannel | None = None
        self.target_seq = targets.seq()
        self.late_steps = 0

    def run(self) -> None:
        self.publish()
        self.conn.send(("ok", self.world.scene.snapshot_size))
        raise_thread_priority("sim physics")
        deadline = time.monotonic_ns()
        try:
            while self.answer_requests():
                self.apply_target()
                self.world.step()
                self.publish()
                deadline += STEP_NS
                lag = time.monotonic_ns() - deadline
                if lag > MAX_CATCH_UP_STEPS * STEP_NS:
                    self.late_steps += lag // STEP_NS
                    deadline = time.monotonic_ns()
                elif lag < 0:
                    time.sleep(-lag / 1e9)
        finally:
            if self.snapshots is not None:
                self.snapshots.close()

    def apply_target(self) -> None:
        seq = self.targets.seq()
        if seq == self.target_seq or seq % 2:
            return
        got = self.targets.read()
        if got is not None:
            self.target_seq, _, q = got
            self.world.set_target(q)

    def publish(self) -> None:
        t_ns = time.monotonic_ns()
        self.states.publish(self.world.read_state(t_ns), self.world.steps, self.late_steps)
        if self.snapshots is not None:
            self.snapshots.publish(t_ns, self.world.scene.snapshot())

    def answer_requests(self) -> bool:
        """Answer what the parent asked; False once it says stop or has gone."""
        try:
            while self.conn.poll():
                what, arg = self.conn.recv()
                if what == "stop":
                    return False
                try:
                    reply = ("ok", self.handle(what, arg))
                except Exception as exc:  # answer the parent; the arm keeps stepping
                    reply = ("error", f"{type(exc).__name__}: {exc}")
                self.conn.send(reply)
        except (EOFError, OSError):
            return False  # the parent died: nobody is left to drive the arm
        return True

    def handle(self, what: str, arg: Any) -> Any:
        if what == "reset":
            self.world.reset(arg)
            self.target_seq = self.targets.seq()  # a target sent before the reset is stale
            self.publish()
            return None
        if what == "poses":
            return self.world.scene.object_poses()
        if what == "render":
            self.snapshots = SnapshotChannel(self.world.scene.snapshot_size, arg)
            self.publish()
            return None
        raise ValueError(f"unknown request {what!r}")
