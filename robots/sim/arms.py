"""The sim arms as data: which URDF, which joints, how the gripper maps, where cameras sit.

Limits are read from each URDF so that the spec and the physics can never disagree.
"""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pybullet_data

from robots.base import CameraSpec, GripperSpec, JointSpec, RobotConfigError, RobotSpec

SIM_ASSETS = Path(__file__).resolve().parents[2] / "sim_assets"


@dataclasses.dataclass(frozen=True)
class ArmModel:
    """How one arm is loaded and driven in PyBullet.

    Attributes:
        name: Robot type written into specs and recordings.
        urdf_path: The arm's URDF.
        arm_joints: URDF names of the arm joints, base to tip.
        finger_joints: URDF names of the prismatic finger joints.
        finger_travel_m: Finger joint position at full opening, in [m]; 0 is closed.
        ee_link: URDF link used as the end-effector (tool centre point).
        wrist_camera_link: URDF link the wrist camera rides on.
        wrist_camera_forward: Unit vector, in that link's frame, the camera looks along.
        wrist_camera_up: Unit vector, in that link's frame, that is "up" in the image.
        base_position: Where the arm's base sits in the world, in [m].
        home: Arm joint positions in [rad] after a reset, gripper excluded.
        gripper_force_n: Grasp force at full closing effort, in [N].
    """

    name: str
    urdf_path: Path
    arm_joints: tuple[str, ...]
    finger_joints: tuple[str, ...]
    finger_travel_m: float
    ee_link: str
    wrist_camera_link: str
    wrist_camera_forward: tuple[float, float, float]
    wrist_camera_up: tuple[float, float, float]
    base_position: tuple[float, float, float]
    home: tuple[float, ...]
    gripper_force_n: float

    def spec(self, cameras: tuple[CameraSpec, ...]) -> RobotSpec:
        """The public spec: arm joints from the URDF, then a ``gripper`` joint in [0, 1]."""
        limits = read_urdf_limits(self.urdf_path)
        joints = []
        for name in self.arm_joints:
            lower, upper, velocity, effort = limits[name]
            joints.append(JointSpec(name, lower, upper, velocity, effort))
        finger_velocity = limits[self.finger_joints[0]][2]
        joints.append(
            JointSpec(
                "gripper", 0.0, 1.0, finger_velocity / self.finger_travel_m, self.gripper_force_n
            )
        )
        return RobotSpec(
            name=self.name,
            joints=tuple(joints),
            gripper=GripperSpec(
                kind="parallel",
                max_opening_m=2 * self.finger_travel_m,
                max_force_n=self.gripper_force_n,
            ),
            cameras=cameras,
            urdf_path=self.urdf_path,
            ee_link=self.ee_link,
            urdf_joint_names=self.arm_joints,
        )


def read_urdf_limits(path: Path) -> dict[str, tuple[float, float, float, float]]:
    """Joint name -> (lower [rad or m], upper, velocity [rad/s or m/s], effort [N·m or N]).

    Raises:
        RobotConfigError: The file is missing or is not a URDF.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise RobotConfigError(f"cannot read URDF {path}: {exc}") from exc
    limits = {}
    for joint in root.iter("joint"):
        limit = joint.find("limit")
        if limit is None or joint.get("type") not in ("revolute", "prismatic"):
            continue
        limits[joint.get("name", "")] = tuple(
            float(limit.get(key, "0")) for key in ("lower", "upper", "velocity", "effort")
        )
    return limits  # type: ignore[return-value]


SO101 = ArmModel(
    name="so101_sim",
    urdf_path=SIM_ASSETS / "so101" / "so101.urdf",
    arm_joints=("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
    finger_joints=("left_finger", "right_finger"),
    finger_travel_m=0.025,
    ee_link="gripper_tcp",
    wrist_camera_link="wrist_camera",
    wrist_camera_forward=(1.0, 0.0, 0.0),
    wrist_camera_up=(0.0, 0.0, 1.0),
    base_position=(0.0, 0.0, 0.0),
    home=(0.0, 0.0, 1.2, 1.6, 0.0),
    gripper_force_n=40.0,
)

PANDA = ArmModel(
    name="panda_sim",
    urdf_path=Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf",
    arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
    finger_joints=("panda_finger_joint1", "panda_finger_joint2"),
    finger_travel_m=0.04,
    ee_link="panda_grasptarget",
    wrist_camera_link="panda_hand",
    wrist_camera_forward=(0.0, 0.0, 1.0),
    wrist_camera_up=(1.0, 0.0, 0.0),
    base_position=(0.0, 0.0, 0.0),
    home=(0.0, -0.6, 0.0, -2.4, 0.0, 1.9, 0.785),
    gripper_force_n=40.0,
)

ARMS: dict[str, ArmModel] = {"so101": SO101, "panda": PANDA}


def arm_model(name: str) -> ArmModel:
    """Look up a sim arm by name.

    Raises:
        RobotConfigError: Unknown name, or its URDF is missing.
    """
    try:
        model = ARMS[name]
    except KeyError:
        raise RobotConfigError(f"unknown sim arm '{name}'; known: {', '.join(ARMS)}") from None
    if not os.path.exists(model.urdf_path):
        raise RobotConfigError(f"sim arm '{name}': URDF not found at {model.urdf_path}")
    return model
