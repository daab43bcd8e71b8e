"""``SimRobot``: the PyBullet arm behind the ``Robot`` interface.

In realtime mode (the default, for teleoperation) a physics process steps at 240 Hz on
absolute deadlines (``robots.sim.physics_process``), so ``read()`` and ``command()``
only touch shared memory and never wait on a physics step. With ``realtime=False`` the
world lives in this process and nothing runs in the background: ``step()`` advances
the physics, time is the sim's own, and the same seed and the same calls give the same
states.
"""

from __future__ import annotations

import logging
import threading
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
from robots.sim.arms import arm_model
from robots.sim.physics import SimWorld
from robots.sim.physics_process import PhysicsProcess
from robots.sim.render import RENDERERS, RenderProcess

log = logging.getLogger(__name__)

CAMERA_NAMES = ("front", "wrist")


class SimRobot(_Robot):
    """A simulated arm on a table, with objects to grasp and two cameras.

    Args:
        arm: ``"so101"`` (the default 5-joint arm) or ``"panda"``.
        gui: Open a PyBullet window; headless (``DIRECT``) otherwise.
        realtime: Keep sim time in step with the wall clock (a physics process).
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
        self._world: SimWorld | None = None  # realtime=False: the world, in this process
        self._physics: PhysicsProcess | None = None  # realtime=True: the physics process
        self._render: RenderProcess | None = None

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
        if self._physics is not None:
            return self._physics.read()[1]
        return self._world.steps if self._world is not None else 0

    @property
    def late_steps(self) -> int:
        """Physics steps dropped because the physics fell more than 0.1 s behind."""
        return self._physics.read()[2] if self._physics is not None else 0

    def object_poses(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Each object's position [m] and quaternion (xyzw) in the world, by name."""
        self._require_connected("object_poses()")
        if self._physics is not None:
            return self._physics.object_poses()
        with self._lock:
            return self._require_world().scene.object_poses()

    def reset(self, seed: int | None = None) -> None:
        """Home the arm and place the objects again (with ``seed``, or the last one)."""
        self._require_connected("reset()")
        if seed is not None:
            self._seed = seed
        if self._physics is not None:
            self._physics.reset(self._seed)
            return
        with self._lock:
            world = self._require_world()
            world.reset(self._seed)
            self._publish(world)

    def step(self, n: int = 1) -> None:
        """Advance the physics by ``n`` steps of 1/240 s; only with ``realtime=False``."""
        self._require_connected("step()")
        if self.realtime:
            raise RobotConfigError("step() drives the sim only when created with realtime=False")
        with self._lock:
            world = self._require_world()
            for _ in range(n):
                world.step()
            self._publish(world)

    def _connect(self) -> None:
        if self.realtime:
            self._connect_process()
        else:
            self._connect_in_process()
        log.info(
            "sim arm '%s' connected (realtime=%s, cameras=%s)",
            self._arm,
            self.realtime,
            [c.name for c in self.spec.cameras],
        )

    def _connect_process(self) -> None:
        physics = PhysicsProcess(self._arm, self.spec, self._seed, self._gui)
        try:
            physics.start()
            self._render = self._start_renderer(physics.snapshot_size)
            if self._render is not None:
                physics.attach_renderer(self._render.snapshots.name)
        except Exception:
            self._stop_renderer()
            physics.stop()
            raise
        self._physics = physics

    def _connect_in_process(self) -> None:
        world = SimWorld(self._model, self.spec, gui=self._gui)
        try:
            world.reset(self._seed)
            self._render = self._start_renderer(world.scene.snapshot_size)
        except Exception:
            world.close()
            raise
        self._world = world
        self._publish(world)

    def _start_renderer(self, snapshot_size: int) -> RenderProcess | None:
        if not self.spec.cameras:
            return None
        render = RenderProcess(self._arm, self.spec.cameras, snapshot_size, self._renderer_choice)
        render.start()
        return render

    def _stop_renderer(self) -> None:
        if self._render is not None:
            self._render.stop()
            self._render = None

    def _disconnect(self) -> None:
        if self._physics is not None:
            self._physics.stop()
            self._physics = None
        self._stop_renderer()
        if self._world is not None:
            self._world.close()
            self._world = None

    def _read(self) -> RobotState:
        if self._physics is not None:
            return self._physics.read()[0]
        with self._lock:
            world = self._require_world()
            return world.read_state(world.sim_time_ns)

    def _send(self, q: FloatArray) -> None:
        if self._physics is not None:
            self._physics.send(q)  # applied before the physics process's next step
            return
        with self._lock:
            self._require_world().set_target(q)

    def _require_world(self) -> SimWorld:
        if self._world is None:
            raise RobotIOError("the sim world is closed")
        return self._world

    def _publish(self, world: SimWorld) -> None:
        """Hand a snapshot to the renderer (``realtime=False``: after each step)."""
        if self._render is not None:
            self._render.snapshots.publish(world.sim_time_ns, world.scene.snapshot())


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
