"""``SimRobot``: the PyBullet arm behind the ``Robot`` interface.

In realtime mode (the default, for teleoperation) a physics thread steps at 240 Hz on
absolute deadlines and caches the newest state, so ``read()`` and ``command()`` only
touch memory under a lock. With ``realtime=False`` nothing runs in the background:
``step()`` advances the physics, time is the sim's own, and the same seed and the
same calls give the same states.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from robots.base import (
    Camera,
    CameraSpec,
    FloatArray,
    RobotConfigError,
    RobotIOError,
    RobotState,
)
from robots.base import Robot as _Robot
from robots.realtime import raise_thread_priority
from robots.sim.arms import arm_model
from robots.sim.physics import STEP_NS, SimWorld
from robots.sim.render import RENDERERS, RenderProcess

log = logging.getLogger(__name__)

CAMERA_NAMES = ("front", "wrist")
MAX_CATCH_UP_STEPS = 24
"""Physics steps run back to back to catch up after a stall (0.1 s of sim time)."""


class SimRobot(_Robot):
    """A simulated arm on a table, with objects to grasp and two cameras.

    Args:
        arm: ``"so101"`` (the default 5-joint arm) or ``"panda"``.
        gui: Open a PyBullet window; headless (``DIRECT``) otherwise.
        realtime: Keep sim time in step with the wall clock (a background thread).
        seed: Seed of the object placement on ``connect()`` and ``reset()``.
        cameras: Camera names (``"front"``, ``"wrist"``) or specs; ``()`` for none.
        camera_width: Image width in [pixels] for cameras given by name.
        camera_height: Image height in [pixels] for cameras given by name.
        camera_fps: Frame rate in [frames/s] for cameras given by name.
        renderer: ``"auto"`` (EGL when it loads, else TinyRenderer), ``"egl"``, ``"tiny"``.
    """

    def __init__(
        self,
        arm: str = "so101",
        *,
        gui: bool = False,
        realtime: bool = True,
        seed: int = 0,
        cameras: Sequence[str | CameraSpec] | None = None,
        camera_width: int = 320,
        camera_height: int = 240,
        camera_fps: float = 30.0,
        renderer: str = "auto",
    ) -> None:
        self._model = arm_model(arm)
        self._arm = arm
        specs = _camera_specs(cameras, camera_width, camera_height, camera_fps)
        super().__init__(self._model.spec(specs))
        if renderer not in RENDERERS:
            raise RobotConfigError(f"renderer '{renderer}' unknown; use one of {RENDERERS}")
        self._gui = gui
        self.realtime = realtime
        self._seed = seed
        self._renderer_choice = renderer
        self._lock = threading.Lock()
        self._world: SimWorld | None = None
        self._render: RenderProcess | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._state: RobotState | None = None
        self._pending: FloatArray | None = None
        self.late_steps = 0
        """Physics steps dropped because the thread fell more than 0.1 s behind."""

    @property
    def cameras(self) -> Mapping[str, Camera]:
        return dict(self._render.cameras) if self._render is not None else {}

    @property
    def renderer(self) -> str:
        """The renderer in use: ``"egl"``, ``"tiny"``, ``"starting"`` or ``"none"``."""
        return self._render.renderer if self._render is not None else "none"

    @property
    def physics_steps(self) -> int:
        """Physics steps taken since the last reset."""
        return self._world.steps if self._world is not None else 0

    def object_poses(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Each object's position [m] and quaternion (xyzw) in the world, by name."""
        self._require_connected("object_poses()")
        with self._lock:
            return self._require_world().scene.object_poses()

    def reset(self, seed: int | None = None) -> None:
        """Home the arm and place the objects again (with ``seed``, or the last one)."""
        self._require_connected("reset()")
        if seed is not None:
            self._seed = seed
        with self._lock:
            world = self._require_world()
            world.reset(self._seed)
            self._pending = None
            self._publish(world, self._now_ns(world))

    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` steps of 1/240 s; only with ``realtime=False``."""
        self._require_connected("step()")
        if self.realtime:
            raise RobotConfigError("step() drives the sim only when created with realtime=False")
        with self._lock:
            world = self._require_world()
            for _ in range(n):
                world.step()
            self._publish(world, world.sim_time_ns)

    def _connect(self) -> None:
        world = SimWorld(self._model, self.spec, gui=self._gui)
        try:
            world.reset(self._seed)
            if self.spec.cameras:
                self._render = RenderProcess(
                    self._arm, self.spec.cameras, world.scene.snapshot_size, self._renderer_choice
                )
                self._render.start()
        except Exception:
            world.close()
            raise
        self._world = world
        self._publish(world, self._now_ns(world))
        if self.realtime:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._physics_loop, name="sim-physics", daemon=True
            )
            self._thread.start()
        log.info(
            "sim arm '%s' connected (realtime=%s, cameras=%s)",
            self._arm,
            self.realtime,
            [c.name for c in self.spec.cameras],
        )

    def _disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._render is not None:
            self._render.stop()
            self._render = None
        if self._world is not None:
            self._world.close()
            self._world = None

    def _read(self) -> RobotState:
        if self.realtime:
            state = self._state
            if self._thread is None or not self._thread.is_alive():
                raise RobotIOError("the sim physics thread has stopped; reconnect the robot")
            assert state is not None
            return state
        with self._lock:
            world = self._require_world()
            return world.read_state(world.sim_time_ns)

    def _send(self, q: FloatArray) -> None:
        if self.realtime:
            self._pending = q  # the physics thread applies it before its next step
            return
        with self._lock:
            self._require_world().set_target(q)

    def _now_ns(self, world: SimWorld) -> int:
        return time.monotonic_ns() if self.realtime else world.sim_time_ns

    def _require_world(self) -> SimWorld:
        if self._world is None:
            raise RobotIOError("the sim world is closed")
        return self._world

    def _publish(self, world: SimWorld, t_ns: int) -> None:
        """Cache the state for ``read()`` and hand a snapshot to the renderer."""
        self._state = world.read_state(t_ns)
        if self._render is not None:
            self._render.snapshots.publish(t_ns, world.scene.snapshot())

    def _physics_loop(self) -> None:
        raise_thread_priority("sim physics")
        deadline = time.monotonic_ns()
        while not self._stop.is_set():
            with self._lock:
                world = self._require_world()
                pending, self._pending = self._pending, None
                if pending is not None:
                    world.set_target(pending)
                world.step()
                self._publish(world, time.monotonic_ns())
            deadline += STEP_NS
            lag = time.monotonic_ns() - deadline
            if lag > MAX_CATCH_UP_STEPS * STEP_NS:
                self.late_steps += lag // STEP_NS
                deadline = time.monotonic_ns()
            elif lag < 0:
                time.sleep(-lag / 1e9)


def _camera_specs(
    cameras: Sequence[str | CameraSpec] | None, width: int, height: int, fps: float
) -> tuple[CameraSpec, ...]:
    if cameras is None:
        cameras = CAMERA_NAMES
    specs = tuple(
        c if isinstance(c, CameraSpec) else CameraSpec(c, width, height, fps) for c in cameras
    )
    for spec in specs:
        if spec.name not in CAMERA_NAMES:
            raise RobotConfigError(
                f"sim camera '{spec.name}' unknown; the sim has: {', '.join(CAMERA_NAMES)}"
            )
    return specs
