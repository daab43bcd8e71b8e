"""The robot-driver interface that every backend implements, and its value types.

Units are SI everywhere: radians, rad/s, N·m, newtons, metres, and nanoseconds on the
``time.monotonic_ns()`` clock. The last entry of a joint vector is the gripper opening
in [0, 1] (0 is closed); every other entry is an arm joint in rad.

:class:`Robot` and :class:`Camera` are the interface; a robot's description
(:class:`RobotSpec` and its parts) lives in :mod:`robots.spec` and the exceptions in
:mod:`robots.errors`, both re-exported here.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from robots.errors import (
    CommandError,
    CommandShapeError,
    NonFiniteCommandError,
    NotConnectedError,
    RobotConfigError,
    RobotError,
    RobotIOError,
)
from robots.spec import CameraSpec, FloatArray, GripperSpec, JointSpec, RobotSpec

__all__ = [
    "Camera",
    "CameraSpec",
    "CommandError",
    "CommandShapeError",
    "FloatArray",
    "Frame",
    "GripperSpec",
    "JointSpec",
    "NonFiniteCommandError",
    "NotConnectedError",
    "Robot",
    "RobotConfigError",
    "RobotError",
    "RobotIOError",
    "RobotSpec",
    "RobotState",
    "check_command",
]


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
