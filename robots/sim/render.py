"""Camera rendering off the control path: a render process that mirrors the physics.

The physics (its own process, or the caller's with ``realtime=False``) publishes a
snapshot (joint positions and object poses, with the sim's ``t_ns``) into shared memory
after each step. A separate process, with its own PyBullet client holding the same
scene, poses that scene from the newest snapshot, renders each camera when it is due,
and writes the image with the snapshot's ``t_ns`` into a per-camera shared-memory slot.
So a frame always carries the time of the state it shows, and rendering never holds
the control process's GIL. The render process stops when told to, or when its parent
has died.

Both channels are seqlocks (``robots.sim.seqlock``).

The render process runs at nice 10 and, like the physics process, off the first CPU
(``robots.realtime.leave_first_cpu``): Mesa's llvmpipe would otherwise keep a thread
busy on every core while it draws, and the server's network thread, which applies each
command as it arrives, would wait for a core.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing.connection
import os
import time

import numpy as np

from robots.base import Camera, CameraSpec, FloatArray, Frame
from robots.bullet import c_stderr_silenced
from robots.bullet import pybullet as pb
from robots.realtime import leave_first_cpu
from robots.sim.arms import ArmModel, arm_model
from robots.sim.child import ChildProcess
from robots.sim.scene import Scene, build_scene
from robots.sim.seqlock import SeqLockBuffer

log = logging.getLogger(__name__)

RENDERERS = ("auto", "egl", "tiny")
_RENDERER_CODES = {1: "egl", 2: "tiny"}
_RENDERER_NAMES = {"egl": "EGL (OpenGL, off-screen)", "tiny": "TinyRenderer (software)"}

# The front camera: fixed over the table, in world coordinates [m].
FRONT_EYE = (0.45, 0.15, 0.36)
FRONT_TARGET = (0.12, 0.0, 0.11)
NEAR_M, FAR_M = 0.01, 4.0
RENDER_NICENESS = 10
"""On a busy machine cameras give up frames before the server gives up time."""


class SnapshotChannel(SeqLockBuffer):
    """The physics-to-renderer channel: header ``[seq, t_ns]``, payload the snapshot."""

    def __init__(self, size: int, name: str | None = None) -> None:
        super().__init__(1, (size,), np.float64, name)

    def publish(self, t_ns: int, snapshot: FloatArray) -> None:
        self.write((t_ns,), snapshot)


class FrameChannel(SeqLockBuffer):
    """One camera's slot: header ``[seq, frame_seq, t_ns]``, payload an HxWx3 image."""

    def __init__(self, spec: CameraSpec, name: str | None = None) -> None:
        super().__init__(2, (spec.height, spec.width, 3), np.uint8, name)


class SimCamera(Camera):
    """A camera whose frames come from the render process through shared memory."""

    def __init__(self, spec: CameraSpec, channel: FrameChannel) -> None:
        super().__init__(spec)
        self._channel = channel
        self._cached: Frame | None = None
        self._cached_seq = 0

    def latest(self) -> Frame | None:
        seq = self._channel.seq()
        if seq == self._cached_seq or seq % 2:
            return self._cached
        got = self._channel.read()
        if got is not None:
            self._cached_seq, (frame_seq, t_ns), image = got
            self._cached = Frame(image=image, t_ns=t_ns, seq=frame_seq)
        return self._cached


class RenderProcess:
    """Starts, watches and stops the render process for one sim robot.

    Args:
        arm: Name of the sim arm (see ``robots.sim.arms.ARMS``).
        cameras: The cameras to render.
        snapshot_size: Length of the scene snapshot.
        renderer: ``"auto"`` (EGL if it loads, else TinyRenderer), ``"egl"`` or ``"tiny"``.
    """

    def __init__(
        self, arm: str, cameras: tuple[CameraSpec, ...], snapshot_size: int, renderer: str
    ) -> None:
        self.snapshots = SnapshotChannel(snapshot_size)
        self.frames = {c.name: FrameChannel(c) for c in cameras}
        self.cameras = {c.name: SimCamera(c, self.frames[c.name]) for c in cameras}
        self._process = ChildProcess(
            f"{__name__}:render_main",
            (
                arm,
                cameras,
                self.snapshots.name,
                {name: ch.name for name, ch in self.frames.items()},
                renderer,
            ),
            "sim render",
        )
        self._conn: multiprocessing.connection.Connection | None = None
        self._chosen = "starting"

    @property
    def renderer(self) -> str:
        """``"egl"`` or ``"tiny"`` once the process has chosen, else ``"starting"``."""
        conn = self._conn
        if self._chosen == "starting" and conn is not None:
            with contextlib.suppress(EOFError, OSError):
                if conn.poll():
                    self._chosen = _RENDERER_CODES.get(conn.recv(), "starting")
                    if self._chosen != "starting":
                        log.info("sim cameras render with %s", _RENDERER_NAMES[self._chosen])
        return self._chosen

    def start(self) -> None:
        self._conn = self._process.start()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the child reads end-of-file and stops
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2.0)
        for channel in (self.snapshots, *self.frames.values()):
            channel.close()


def render_main(
    arm: str,
    cameras: tuple[CameraSpec, ...],
    snapshot_name: str,
    frame_names: dict[str, str],
    renderer: str,
    conn: multiprocessing.connection.Connection,
) -> None:
    """Entry point of the render process: render until the parent closes ``conn``."""
    leave_first_cpu("sim render")  # before EGL: llvmpipe sizes its thread pool to the CPUs
    with contextlib.suppress(OSError):
        os.nice(RENDER_NICENESS)  # physics and control matter more than camera fps
    client = pb.connect(pb.DIRECT)
    chosen, mode = _choose_renderer(client, renderer)
    conn.send(chosen)
    scene = build_scene(client, arm_model(arm))
    snapshots = SnapshotChannel(scene.snapshot_size, snapshot_name)
    slots = {c.name: FrameChannel(c, frame_names[c.name]) for c in cameras}
    try:
        _render_loop(scene, cameras, snapshots, slots, mode, conn)
    finally:
        for channel in (snapshots, *slots.values()):
            channel.close()
        pb.disconnect(client)


def _choose_renderer(client: int, wanted: str) -> tuple[int, int]:
    """Load EGL if wanted and available; return (renderer code, pybullet renderer)."""
    if wanted in ("auto", "egl"):
        spec = importlib.util.find_spec("eglRenderer")  # shipped in pybullet's wheel
        if spec is not None and spec.origin:
            with c_stderr_silenced():  # the plugin prints its device choice
                plugin = pb.loadPlugin(spec.origin, "_eglRendererPlugin", physicsClientId=client)
            if plugin >= 0:
                return 1, pb.ER_BULLET_HARDWARE_OPENGL
    return 2, pb.ER_TINY_RENDERER


def _render_loop(
    scene: Scene,
    cameras: tuple[CameraSpec, ...],
    snapshots: SnapshotChannel,
    slots: dict[str, FrameChannel],
    mode: int,
    conn: multiprocessing.connection.Connection,
) -> None:
    now = time.monotonic()
    due = {c.name: now for c in cameras}
    counts = {c.name: 0 for c in cameras}
    applied_seq = -1
    # The parent only ever closes the connection: when it stops the cameras, or dies.
    while not conn.poll(0):
        got = snapshots.read()
        if got is None:
            conn.poll(0.005)
            continue
        seq, (t_ns,), snap = got
        if seq != applied_seq:
            scene.apply_snapshot(snap)
            applied_seq = seq
        now = time.monotonic()
        for cam in cameras:
            if now >= due[cam.name]:
                image = render_camera(scene, cam, mode)
                slots[cam.name].write((counts[cam.name], t_ns), image)
                counts[cam.name] += 1
                # No catch-up bursts: a slow renderer delivers fewer frames, each on time.
                due[cam.name] = max(due[cam.name] + 1.0 / cam.fps, now)
        conn.poll(max(0.0, min(due.values()) - time.monotonic()))


def render_camera(scene: Scene, cam: CameraSpec, mode: int) -> np.ndarray:
    """Render one camera of a posed scene as an HxWx3 uint8 RGB image."""
    view = _view_matrix(scene, cam.name)
    proj = pb.computeProjectionMatrixFOV(
        cam.fov_deg, cam.width / cam.height, NEAR_M, FAR_M, physicsClientId=scene.client
    )
    _, _, rgba, _, _ = pb.getCameraImage(
        cam.width,
        cam.height,
        view,
        proj,
        renderer=mode,
        flags=pb.ER_NO_SEGMENTATION_MASK,
        physicsClientId=scene.client,
    )
    return np.asarray(rgba, dtype=np.uint8).reshape(cam.height, cam.width, 4)[:, :, :3]


def _view_matrix(scene: Scene, camera: str) -> list[float]:
    if camera != "wrist":
        return pb.computeViewMatrix(
            FRONT_EYE, FRONT_TARGET, (0, 0, 1), physicsClientId=scene.client
        )
    model: ArmModel = scene.model
    link = scene.links[model.wrist_camera_link]
    state = pb.getLinkState(
        scene.robot, link, computeForwardKinematics=True, physicsClientId=scene.client
    )
    pos, orn = np.asarray(state[4]), state[5]
    rot = np.array(pb.getMatrixFromQuaternion(orn)).reshape(3, 3)
    forward = rot @ np.asarray(model.wrist_camera_forward)
    up = rot @ np.asarray(model.wrist_camera_up)
    return pb.computeViewMatrix(
        pos.tolist(), (pos + 0.1 * forward).tolist(), up.tolist(), physicsClientId=scene.client
    )
