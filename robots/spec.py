"""What a robot is: its joints and their limits, its gripper, its cameras, its model.

Frozen value types, checked when made. Units are SI: positions in [rad], velocities in
[rad/s], efforts in [N·m]; the gripper, last, in opening units [0, 1] and [N].
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from robots.errors import RobotConfigError

FloatArray = NDArray[np.float64]


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
