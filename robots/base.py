"""The robot-driver interface that every backend implements, and its value types.

Units are SI everywhere: radians, rad/s, N·m, newtons, metres, and nanoseconds on the
``time.monotonic_ns()`` clock. The last entry of a joint vector is the gripper opening
in [0, 1] (0 is closed); every other entry is an arm joint in rad.

Exception tree::

    RobotError
    ├── NotConnectedError       read/command before connect(), or after disconnect()
    ├── CommandError            a command that was refused; the robot did not move
    │   ├── CommandShapeError   wrong length or not a 1-D vector
    │   └── NonFiniteCommandError  NaN or ±inf in a command
    ├── RobotConfigError        a bad option, asset or calibration file
    └── RobotIOError            the link to the robot failed (bus, renderer process)
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class RobotError(Exception):
    """Root of every error raised by the ``robots`` package."""


class NotConnectedError(RobotError):
    """The robot is not connected: call ``connect()`` or use it as a context manager."""


class CommandError(RobotError):
    """A command was refused before anything reached the robot."""


class CommandShapeError(CommandError):
    """A command vector has the wrong length or shape."""


class NonFiniteCommandError(CommandError):
    """A command vector holds NaN or ±inf."""


class RobotConfigError(RobotError):
    """A robot option, asset or calibration file is wrong or missing."""


class RobotIOError(RobotError):
    """Talking to the robot failed: a bus timeout, a closed port, a dead renderer."""


@dataclasses.dataclass(frozen=True)
class JointSpec:
    """One joint's limits.

    Attributes:
        name: Joint name, unique within the robot.
        lower: Lowest position in [rad] (the gripper uses opening units, 0).
        upper: Highest position in [rad] (the gripper uses opening units, 1).
        max_velocity: Speed limit in [rad/s] (the gripper: opening units per second).
        max_effort: Torque limit in [N·m] (the gripper: grasp force limit in [N]).
    """

    name: str
    lower: float
    upper: float
    max_velocity: float
    max_effort: float

    def __post_init__(self) -> None:
        if not self.lower < self.upper:
            raise RobotConfigError(
                f"joint '{self.name}': lower limit {self.lower} must be below upper {self.upper}"
            )
        if self.max_velocity <= 0 or self.max_effort <= 0:
            raise RobotConfigError(f"joint '{self.name}': velocity and effort limits must be > 0")


@dataclasses.dataclass(frozen=True)
class GripperSpec:
    """The gripper, commanded as an opening in [0, 1] (0 is closed).

    Attributes:
        kind: ``"parallel"`` (two fingers) or ``"jaw"`` (one moving jaw).
        max_opening_m: Distance between the fingers when fully open, in [m].
        max_force_n: Grasp force at full closing effort, in [N].
    """

    kind: str
    max_opening_m: float
    max_force_n: float


@dataclasses.dataclass(frozen=True)
class CameraSpec:
    """One camera's image format.

    Attributes:
        name: Camera name, e.g. ``"front"`` or ``"wrist"``.
        width: Image width in [pixels].
        height: Image height in [pixels].
        fps: Target frame rate in [frames/s].
        fov_deg: Vertical field of view in [degrees].
    """

    name: str
    width: int = 320
    height: int = 240
    fps: float = 30.0
    fov_deg: float = 60.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise RobotConfigError(
                f"camera '{self.name}': width, height and fps must be > 0, "
                f"got {self.width}x{self.height} at {self.fps} fps"
            )


def _frozen(values: list[float]) -> FloatArray:
    """A read-only float array, safe to share between callers."""
    arr = np.array(values, dtype=np.float64)
    arr.flags.writeable = False
    return arr


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """What a robot is: its joints (gripper last), gripper, cameras and model.

    Attributes:
        name: Robot type, e.g. ``"so101_sim"``; written into recordings.
        joints: Arm joints in kinematic order, then the gripper.
        gripper: The gripper.
        cameras: The cameras, in display order.
        urdf_path: The URDF that describes the arm, for kinematics and display.
        ee_link: Name of the URDF link whose frame is the end effector.
        urdf_joint_names: URDF joint name of each arm joint (defaults to ``joints``' names).
    """

    name: str
    joints: tuple[JointSpec, ...]
    gripper: GripperSpec
    cameras: tuple[CameraSpec, ...]
    urdf_path: Path | None
    ee_link: str = ""
    urdf_joint_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            raise RobotConfigError(f"joint names must be unique, got {names}")
        if len(self.joints) < 2:
            raise RobotConfigError("a robot needs at least one arm joint and a gripper")
        if self.urdf_joint_names and len(self.urdf_joint_names) != len(self.joints) - 1:
            raise RobotConfigError("urdf_joint_names must name every arm joint, gripper excluded")

    @functools.cached_property
    def joint_names(self) -> tuple[str, ...]:
        """All joint names, the gripper last."""
        return tuple(j.name for j in self.joints)

    @property
    def arm_joint_names(self) -> tuple[str, ...]:
        """Names of the arm joints (everything but the gripper)."""
        return self.joint_names[:-1]

    @property
    def dof(self) -> int:
        """Length of a command or state vector: arm joints plus the gripper."""
        return len(self.joints)

    @functools.cached_property
    def lower(self) -> FloatArray:
        """Lower position limits, [rad] for the arm and 0 for the gripper."""
        return _frozen([j.lower for j in self.joints])

    @functools.cached_property
    def upper(self) -> FloatArray:
        """Upper position limits, [rad] for the arm and 1 for the gripper."""
        return _frozen([j.upper for j in self.joints])

    @functools.cached_property
    def max_velocity(self) -> FloatArray:
        """Velocity limits in [rad/s] (the gripper in opening units per second)."""
        return _frozen([j.max_velocity for j in self.joints])

    @functools.cached_property
    def max_effort(self) -> FloatArray:
        """Effort limits in [N·m] (the gripper in [N])."""
        return _frozen([j.max_effort for j in self.joints])

    def to_dict(self) -> dict[str, object]:
        """A plain, JSON-safe description, as sent to clients and written to datasets."""
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "max_velocity": self.max_velocity.tolist(),
            "max_effort": self.max_effort.tolist(),
            "gripper": dataclasses.asdict(self.gripper),
            "cameras": [dataclasses.asdict(c) for c in self.cameras],
        }


@dataclasses.dataclass(frozen=True)
class RobotState:
    """One reading of the robot, all taken at ``t_ns``.

    Attributes:
        t_ns: Capture time in [ns] on ``time.monotonic_ns()`` (sim time when not realtime).
        q: Joint positions: arm in [rad], gripper opening last in [0, 1].
        dq: Joint velocities: arm in [rad/s], gripper in [1/s].
        tau: Joint efforts: arm in [N·m], gripper grasp effort in [N].
        ee_force: Contact force on the gripper from the world, in [N], base frame (3,).
        grasp_force: Squeezing force between the gripper's fingers and an object, [N].
        faults: Active fault names (e.g. ``"overload:elbow_flex"``); empty when healthy.
    """

    t_ns: int
    q: FloatArray
    dq: FloatArray
    tau: FloatArray
    ee_force: FloatArray
    grasp_force: float = 0.0
    faults: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Frame:
    """One camera image.

    Attributes:
        image: HxWx3 uint8 RGB pixels.
        t_ns: Capture time in [ns]: the time of the robot state the image shows.
        seq: Frame counter from 0 for this camera; a gap means frames were skipped.
    """

    image: NDArray[np.uint8]
    t_ns: int
    seq: int


class Camera(abc.ABC):
    """A camera whose newest frame can be taken at any time without waiting."""

    def __init__(self, spec: CameraSpec) -> None:
        self.spec = spec

    @abc.abstractmethod
    def latest(self) -> Frame | None:
        """The newest frame, or None if none has been captured yet. Never blocks."""

    def wait_newer(self, seq: int, timeout_s: float = 2.0) -> Frame:
        """Wait for a frame with ``frame.seq > seq``; for scripts and tests, not the loop.

        Raises:
            RobotIOError: No such frame arrived within ``timeout_s`` [s].
        """
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.latest()
            if frame is not None and frame.seq > seq:
                return frame
            if time.monotonic() > deadline:
                raise RobotIOError(
                    f"camera '{self.spec.name}' delivered no new frame in {timeout_s} s"
                )
            time.sleep(0.002)


def check_command(spec: RobotSpec, q: ArrayLike) -> FloatArray:
    """Validate a command vector and clamp it into the joint limits.

    Args:
        spec: The robot the command is for.
        q: Arm joints in [rad], then the gripper opening in [0, 1].

    Returns:
        A new float64 array, clamped to ``[spec.lower, spec.upper]``.

    Raises:
        CommandShapeError: ``q`` is not a vector of length ``spec.dof``.
        NonFiniteCommandError: ``q`` holds NaN or ±inf (checked before any clamping,
            because ``np.clip`` passes NaN through).
    """
    try:
        arr = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CommandShapeError(f"command is not a numeric vector: {exc}") from exc
    if arr.shape != (spec.dof,):
        raise CommandShapeError(
            f"command has shape {arr.shape}, expected ({spec.dof},): "
            f"{', '.join(spec.joint_names)} (gripper last)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        j = spec.joints[i]
        raise NonFiniteCommandError(
            f"joint '{j.name}' target {arr[i]} is not finite; "
            f"expected a number in [{j.lower:.3g}, {j.upper:.3g}]"
        )
    return np.clip(arr, spec.lower, spec.upper)


class Robot(abc.ABC):
    """One robot arm with a gripper and cameras.

    Subclasses implement the four ``_``-methods; this class owns the checks that every
    backend must share (connection state, command validation and clamping).

    Use it as a context manager::

        with robots.make_robot("sim") as arm:
            state = arm.read()
            sent = arm.command(state.q)
    """

    spec: RobotSpec

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        self._connected = False

    @property
    def is_connected(self) -> bool:
        """Whether ``connect()`` has succeeded and ``disconnect()`` has not run since."""
        return self._connected

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """Cameras by name. Empty for a robot without cameras."""
        return {}

    def connect(self) -> None:
        """Open the link to the robot; safe to call when already connected."""
        if not self._connected:
            self._connect()
            self._connected = True

    def disconnect(self) -> None:
        """Close the link; safe to call twice."""
        if self._connected:
            self._connected = False
            self._disconnect()

    def read(self) -> RobotState:
        """The newest state. Raises ``NotConnectedError`` before ``connect()``."""
        self._require_connected("read()")
        return self._read()

    def command(self, q: ArrayLike) -> FloatArray:
        """Send joint position targets.

        Args:
            q: Arm joints in [rad], then the gripper opening in [0, 1].

        Returns:
            The array actually sent, after clamping into the joint limits.

        Raises:
            NotConnectedError: Not connected.
            CommandShapeError, NonFiniteCommandError: Refused; nothing was sent.
        """
        self._require_connected("command()")
        sent = check_command(self.spec, q)
        self._send(sent)
        return sent

    def _require_connected(self, what: str) -> None:
        if not self._connected:
            raise NotConnectedError(
                f"{what} on '{self.spec.name}' before connect(); "
                "call connect() or use the robot as a context manager"
            )

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()

    @abc.abstractmethod
    def _connect(self) -> None:
        """Open the backend."""

    @abc.abstractmethod
    def _disconnect(self) -> None:
        """Close the backend, leaving the robot safe."""

    @abc.abstractmethod
    def _read(self) -> RobotState:
        """Return the newest state."""

    @abc.abstractmethod
    def _send(self, q: FloatArray) -> None:
        """Send checked, clamped targets."""
