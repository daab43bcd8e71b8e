"""The tabletop scene: floor, table, arm and graspable objects, built in one PyBullet client.

The physics client and the render process each build the same scene, so a snapshot
(joint positions and object poses) taken in one can be applied to the other.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from robots.base import FloatArray, RobotConfigError
from robots.bullet import pybullet as pb
from robots.sim.arms import SIM_ASSETS, ArmModel

TABLE_URDF = SIM_ASSETS / "scene" / "table.urdf"
FLOOR_URDF = SIM_ASSETS / "scene" / "floor.urdf"
TABLE_TOP_Z = 0.0
"""Height of the table top in the world, in [m]; the arm base stands on it."""

# Graspable objects: name -> (URDF, half height above the table top in [m]).
OBJECTS: dict[str, tuple[str, float]] = {
    "red_cube": ("cube_red_30mm.urdf", 0.015),
    "green_cube": ("cube_green_25mm.urdf", 0.0125),
    "blue_cylinder": ("cylinder_blue.urdf", 0.025),
}

# Where objects are placed on reset: a ring in front of the arm base, in the base's
# frame, where the arm can pick from above. Radius in [m], bearing in [rad] from the
# base's +x axis.
PLACE_RADIUS_M = (0.12, 0.22)
PLACE_BEARING_RAD = (-0.9, 0.9)
PLACE_MIN_GAP_M = 0.06


@dataclasses.dataclass
class Scene:
    """Body and joint handles of one built scene.

    Attributes:
        client: The PyBullet client the scene lives in.
        model: The arm.
        robot: Body id of the arm.
        arm_ids: Joint indices of the arm joints, in ``model.arm_joints`` order.
        finger_ids: Joint indices of the finger joints.
        links: Link name -> link index, for every link of the arm.
        objects: Object name -> body id.
        parents: Link index -> parent link index (-1 is the base).
    """

    client: int
    model: ArmModel
    robot: int
    arm_ids: list[int]
    finger_ids: list[int]
    links: dict[str, int]
    objects: dict[str, int]
    parents: dict[int, int]

    def subtree(self, link: int) -> set[int]:
        """``link`` and every link attached below it."""
        found = {link}
        for child in sorted(self.parents):
            if self.parents[child] in found:
                found.add(child)
        return found

    @property
    def joint_ids(self) -> list[int]:
        """Arm joints then finger joints: the order of a snapshot."""
        return self.arm_ids + self.finger_ids

    @property
    def snapshot_size(self) -> int:
        """Length of ``snapshot()``: one value per joint, 7 per object (xyz, quaternion)."""
        return len(self.joint_ids) + 7 * len(self.objects)

    def reset(self, seed: int) -> None:
        """Put the arm at home with the gripper open, and the objects at seeded places."""
        home = list(self.model.home) + [self.model.finger_travel_m] * len(self.finger_ids)
        for joint, value in zip(self.joint_ids, home, strict=True):
            pb.resetJointState(self.robot, joint, value, 0.0, physicsClientId=self.client)
        rng = np.random.default_rng(seed)
        placed: list[FloatArray] = []
        for name, body in self.objects.items():
            xy = _free_spot(rng, placed, self.model.base_position)
            placed.append(xy)
            yaw = rng.uniform(-np.pi, np.pi)
            z = TABLE_TOP_Z + OBJECTS[name][1] + 0.001
            orn = pb.getQuaternionFromEuler((0.0, 0.0, yaw))
            pb.resetBasePositionAndOrientation(
                body, (xy[0], xy[1], z), orn, physicsClientId=self.client
            )
            pb.resetBaseVelocity(body, (0, 0, 0), (0, 0, 0), physicsClientId=self.client)

    def snapshot(self) -> FloatArray:
        """Joint positions, then each object's position and quaternion (xyzw)."""
        states = pb.getJointStates(self.robot, self.joint_ids, physicsClientId=self.client)
        values = [s[0] for s in states]
        for body in self.objects.values():
            pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
            values.extend(pos)
            values.extend(orn)
        return np.array(values)

    def object_poses(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Object name -> (position [m], quaternion xyzw)."""
        poses = {}
        for name, body in self.objects.items():
            pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
            poses[name] = (np.array(pos), np.array(orn))
        return poses

    def apply_snapshot(self, snap: FloatArray) -> None:
        """Pose every joint and object as in ``snap`` (no physics is stepped)."""
        n = len(self.joint_ids)
        for joint, value in zip(self.joint_ids, snap[:n], strict=True):
            pb.resetJointState(self.robot, joint, float(value), physicsClientId=self.client)
        for k, body in enumerate(self.objects.values()):
            pose = snap[n + 7 * k : n + 7 * (k + 1)]
            pb.resetBasePositionAndOrientation(
                body, pose[:3].tolist(), pose[3:].tolist(), physicsClientId=self.client
            )


def _free_spot(
    rng: np.random.Generator, placed: list[FloatArray], base: tuple[float, float, float]
) -> FloatArray:
    """A point on the placement ring at least ``PLACE_MIN_GAP_M`` from the others."""
    xy = np.zeros(2)
    for _ in range(100):
        radius = rng.uniform(*PLACE_RADIUS_M)
        bearing = rng.uniform(*PLACE_BEARING_RAD)
        xy = np.array([base[0] + radius * np.cos(bearing), base[1] + radius * np.sin(bearing)])
        if all(np.linalg.norm(xy - other) >= PLACE_MIN_GAP_M for other in placed):
            break
    return xy


def build_scene(client: int, model: ArmModel) -> Scene:
    """Load the floor, table, arm and objects into ``client`` (not yet reset).

    Raises:
        RobotConfigError: An asset failed to load.
    """
    try:
        for fixed in (FLOOR_URDF, TABLE_URDF):
            pb.loadURDF(
                str(fixed),
                useFixedBase=True,
                flags=pb.URDF_USE_INERTIA_FROM_FILE,
                physicsClientId=client,
            )
        robot = pb.loadURDF(
            str(model.urdf_path),
            model.base_position,
            useFixedBase=True,
            flags=pb.URDF_USE_INERTIA_FROM_FILE | pb.URDF_USE_SELF_COLLISION_EXCLUDE_PARENT,
            physicsClientId=client,
        )
        objects = {
            name: pb.loadURDF(
                str(SIM_ASSETS / "scene" / urdf),
                flags=pb.URDF_USE_INERTIA_FROM_FILE,
                physicsClientId=client,
            )
            for name, (urdf, _) in OBJECTS.items()
        }
    except pb.error as exc:
        raise RobotConfigError(f"failed to load the sim scene for '{model.name}': {exc}") from exc
    joints, links, parents = _index_joints(client, robot)
    try:
        arm_ids = [joints[name] for name in model.arm_joints]
        finger_ids = [joints[name] for name in model.finger_joints]
    except KeyError as exc:
        raise RobotConfigError(f"{model.urdf_path} has no joint {exc}") from None
    return Scene(client, model, robot, arm_ids, finger_ids, links, objects, parents)


def _index_joints(client: int, robot: int) -> tuple[dict[str, int], dict[str, int], dict[int, int]]:
    """Joint name -> index, link name -> index (a link shares its joint's index), parents."""
    joints, links, parents = {}, {}, {}
    for i in range(pb.getNumJoints(robot, physicsClientId=client)):
        info = pb.getJointInfo(robot, i, physicsClientId=client)
        joints[info[1].decode()] = i
        links[info[12].decode()] = i
        parents[i] = info[16]
    return joints, links, parents
