"""A fake arm for tests: first-order joint dynamics and synthetic, stamped camera frames.

The state is computed from the time elapsed since the last command, so reads cost
almost nothing and need no thread. Every command actually sent is kept in ``sent``,
which lets a test assert exactly what reached the robot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from robots.base import (
    Camera,
    CameraSpec,
    FloatArray,
    Frame,
    GripperSpec,
    JointSpec,
    Robot,
    RobotSpec,
    RobotState,
)

# The sim arm's joint limits (sim_assets/so101/so101.urdf), [rad]; the gripper in [0, 1].
_FAKE_JOINTS = (
    JointSpec("shoulder_pan", -2.0, 2.0, 4.0, 3.0),
    JointSpec("shoulder_lift", -1.8, 1.8, 4.0, 3.0),
    JointSpec("elbow_flex", -1.6, 2.5, 4.0, 3.0),
    JointSpec("wrist_flex", -1.8, 1.8, 4.0, 3.0),
    JointSpec("wrist_roll", -2.8, 2.8, 4.0, 3.0),
    JointSpec("gripper", 0.0, 1.0, 2.0, 30.0),
)


def fake_spec(cameras: tuple[CameraSpec, ...] | None = None) -> RobotSpec:
    """The fake arm's spec; two 320x240 cameras at 30 fps unless told otherwise."""
    if cameras is None:
        cameras = (CameraSpec("front"), CameraSpec("wrist"))
    return RobotSpec(
        name="fake",
        joints=_FAKE_JOINTS,
        gripper=GripperSpec(kind="parallel", max_opening_m=0.05, max_force_n=30.0),
        cameras=cameras,
        # Kinematics (for end-effector velocity commands) borrow the sim arm's model,
        # whose joints have the same names.
        urdf_path=Path(__file__).resolve().parents[1] / "sim_assets" / "so101" / "so101.urdf",
        ee_link="gripper_tcp",
    )


class FakeCamera(Camera):
    """Synthetic frames drawn from the joint state, produced by a background thread.

    Each image encodes the joint positions as bar heights, so it changes when the arm
    moves; it is stamped with the time of the state it was drawn from.
    """

    def __init__(self, spec: CameraSpec, state_at: Callable[[int], RobotState]) -> None:
        super().__init__(spec)
        self._state_at = state_at
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"fake-camera-{self.spec.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

    def latest(self) -> Frame | None:
        with self._lock:
            return self._frame

    def _run(self) -> None:
        period_ns = int(1e9 / self.spec.fps)
        deadline = time.monotonic_ns()
        seq = 0
        while not self._stop.is_set():
            t_ns = time.monotonic_ns()
            image = draw_bars(self._state_at(t_ns).q, self.spec.height, self.spec.width)
            with self._lock:
                self._frame = Frame(image=image, t_ns=t_ns, seq=seq)
            seq += 1
            deadline += period_ns
            self._stop.wait(max(0.0, (deadline - time.monotonic_ns()) / 1e9))


def draw_bars(q: FloatArray, height: int, width: int) -> NDArray[np.uint8]:
    """An RGB image with one vertical bar per joint, its height showing the position."""
    image = np.full((height, width, 3), 40, dtype=np.uint8)
    bar_w = max(1, width // (2 * len(q)))
    for i, value in enumerate(np.tanh(q)):
        top = int((1.0 - (value + 1.0) / 2.0) * (height - 1))
        x0 = (2 * i + 1) * bar_w
        image[top:, x0 : x0 + bar_w] = (200, 60 + 30 * i % 190, 90)
    return image


class FakeRobot(Robot):
    """A fake arm that moves each joint toward its target with a first-order lag.

    Args:
        time_constant_s: Lag of the joints toward their targets, in [s].
        cameras: Camera specs; ``()`` for none. Defaults to ``front`` and ``wrist``.
        contact_force_n: Grasp force in [N] reported once the gripper closes below 0.2,
            as if it held an object; 0 disables the pretend contact.
        start_cameras: Whether ``connect()`` starts the frame threads.
    """

    def __init__(
        self,
        time_constant_s: float = 0.05,
        cameras: tuple[CameraSpec, ...] | None = None,
        contact_force_n: float = 5.0,
        start_cameras: bool = True,
    ) -> None:
        super().__init__(fake_spec(cameras))
        self._tc_ns = time_constant_s * 1e9
        self._contact_force_n = contact_force_n
        self._start_cameras = start_cameras
        self._lock = threading.Lock()
        # The sim arm's home: elbow and wrist bent, the gripper over the table and open.
        # (All zeros would point the arm straight up, where velocity commands are singular.)
        home = np.array([0.0, 0.0, 1.2, 1.5, 0.0, 1.0])
        self._q0 = home.copy()
        self._target = home.copy()
        self._t0_ns = time.monotonic_ns()
        self.sent: list[tuple[int, FloatArray]] = []
        self._cameras = {c.name: FakeCamera(c, self._state_at) for c in self.spec.cameras}

    @property
    def cameras(self) -> Mapping[str, Camera]:
        return self._cameras

    def _connect(self) -> None:
        self._t0_ns = time.monotonic_ns()
        if self._start_cameras:
            for cam in self._cameras.values():
                cam.start()

    def _disconnect(self) -> None:
        for cam in self._cameras.values():
            cam.stop()

    def _read(self) -> RobotState:
        return self._state_at(time.monotonic_ns())

    def _send(self, q: FloatArray) -> None:
        now = time.monotonic_ns()
        with self._lock:
            self._q0 = self._position_at(now)
            self._target = q.copy()
            self._t0_ns = now
            self.sent.append((now, q.copy()))

    def _position_at(self, t_ns: int) -> FloatArray:
        decay = np.exp(-max(0, t_ns - self._t0_ns) / self._tc_ns)
        return self._target + (self._q0 - self._target) * decay

    def _state_at(self, t_ns: int) -> RobotState:
        with self._lock:
            q = self._position_at(t_ns)
            dq = (self._target - q) / (self._tc_ns / 1e9)
        dq = np.clip(dq, -self.spec.max_velocity, self.spec.max_velocity)
        grasp = self._contact_force_n if q[-1] < 0.2 else 0.0
        tau = 0.5 * np.sin(q)
        tau[-1] = grasp
        return RobotState(
            t_ns=t_ns,
            q=q,
            dq=dq,
            tau=tau,
            ee_force=np.array([0.0, 0.0, -grasp * 0.1]),
            grasp_force=grasp,
        )
