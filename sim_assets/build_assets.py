"""Write every URDF in sim_assets/: the SO-101-class arm, the table, floor and objects.

The URDFs are generated files. Edit the numbers here and run
``python sim_assets/build_assets.py``, which rewrites them next to itself.
Masses and inertias come from the shapes (see ``urdf_writer.py``).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from urdf_writer import Asset, Joint, Link, Shape, Vec3, matrix_rpy, urdf_xml

PALETTE: dict[str, tuple[float, float, float, float]] = {
    "base_grey": (0.20, 0.20, 0.22, 1.0),
    "arm_yellow": (0.95, 0.78, 0.15, 1.0),
    "servo_white": (0.90, 0.90, 0.88, 1.0),
    "gripper_black": (0.10, 0.10, 0.12, 1.0),
    "finger_grey": (0.62, 0.64, 0.68, 1.0),
    "pad_rubber": (0.25, 0.25, 0.28, 1.0),
    "camera_purple": (0.45, 0.20, 0.60, 1.0),
    "table_wood": (0.72, 0.58, 0.42, 1.0),
    "table_leg": (0.35, 0.30, 0.26, 1.0),
    "floor_grey": (0.50, 0.50, 0.52, 1.0),
    "object_red": (0.85, 0.10, 0.10, 1.0),
    "object_green": (0.10, 0.70, 0.20, 1.0),
    "object_blue": (0.10, 0.25, 0.85, 1.0),
}

# ---- the SO-101-class arm, lengths in [m] ----------------------------------------------
BASE_H = 0.050  # base housing height; the shoulder_pan joint sits on its top
SHOULDER_H = 0.055  # shoulder_pan joint to the shoulder_lift axis
UPPER_ARM = 0.130  # shoulder_lift axis to elbow_flex axis
FOREARM = 0.150  # elbow_flex axis to wrist_flex axis
WRIST = 0.040  # wrist_flex axis to the wrist_roll joint (back face of the palm)
PALM_H = 0.025  # palm thickness along the approach axis; the fingers start at its face
FINGER_L = 0.045  # finger length along the approach axis
FINGER_T = 0.008  # finger thickness along the opening axis, rubber pad included
PAD_T = 0.002  # rubber pad thickness
FINGER_W = 0.022  # finger width
TCP_FROM_TIP = 0.010  # gripper_tcp sits this far back from the fingertips, mid-pad
FINGER_TRAVEL = 0.025  # each finger: 0 (closed, pads touch) .. 0.025 m (5 cm opening)
CAM_TILT = 0.26  # wrist camera pitch from the approach axis toward the fingers [rad]

ARM_EFFORT = 3.0  # [N m]; STS3215 stall torque is ~2.9 N m at 12 V
ARM_VELOCITY = 4.0  # [rad/s]; STS3215 no-load speed is ~4.7 rad/s
ARM_DAMPING = 0.1  # [N m s/rad]
FINGER_MASS = 0.015  # [kg]
FINGER_EFFORT = 20.0  # [N] per finger: up to 40 N of squeeze summed over both pads
FINGER_VELOCITY = 0.1  # [m/s]
FINGER_DAMPING = 0.5  # [N s/m]
# Rubbery pads: high lateral friction, and a little compliance, which lets PyBullet's
# solver settle two fingers squeezing one light object (README, "Physics settings").
FINGER_FRICTION = (1.8, 0.003, 0.0001)
FINGER_CONTACT = (1.0e4, 50.0)

SO101_HEADER = """
  SO-101-class desktop arm: 5 revolute joints and a two-finger parallel gripper, for the
  teleop PyBullet sim. Authored for this project from primitives by
  sim_assets/build_assets.py; edit that script, not this file. Units: m, kg, rad, N, N m.
  Masses are SO-101-like; inertias are those of uniform solids of the shapes, so load with
  p.URDF_USE_INERTIA_FROM_FILE (PyBullet otherwise recomputes them).
  Zero pose: the arm points straight up. base_link origin = bottom face of the base; put it
  on the table top. gripper_tcp is the IK frame: +z is the approach axis, the fingers
  open along +-y.
"""


def camera_rpy() -> Vec3:
    """The wrist_camera frame in the gripper frame: +x along the approach axis pitched
    CAM_TILT toward the fingers, +z (image up) away from them, +y image left."""
    t = CAM_TILT
    x_c = np.array([-math.sin(t), 0.0, math.cos(t)])
    z_c = np.array([math.cos(t), 0.0, math.sin(t)])
    return matrix_rpy(np.column_stack([x_c, np.cross(z_c, x_c), z_c]))


def box(size: Vec3, xyz: Vec3, material: str) -> Shape:
    return Shape("box", size, xyz, material)


def finger(side: str, sign: float) -> Link:
    """A finger: a body and a rubber pad on its inner face, whose face is at y = 0."""
    body_t = FINGER_T - PAD_T
    body = box((FINGER_W, body_t, FINGER_L), (0, sign * (PAD_T + body_t / 2), FINGER_L / 2),
               "finger_grey")  # fmt: skip
    pad = box((FINGER_W, PAD_T, FINGER_L * 0.6), (0, sign * PAD_T / 2, FINGER_L * 0.7),
              "pad_rubber")  # fmt: skip
    return Link(f"{side}_finger_link", FINGER_MASS, (body, pad), FINGER_FRICTION, FINGER_CONTACT)


def so101_links() -> tuple[Link, ...]:
    tcp_note = (f"Tool centre point, between the pads {TCP_FROM_TIP} m back from the tips: the "
                "IK target. +z = approach axis, +-y = finger opening axis.")  # fmt: skip
    cam_note = ("Wrist camera. Its frame: +x = viewing direction (the approach axis pitched "
                f"{CAM_TILT} rad toward the fingers), +z = image up, +y = image left.")  # fmt: skip
    # fmt: off
    return (
        Link("base_link", 0.15, (box((0.09, 0.09, BASE_H), (0, 0, BASE_H / 2), "base_grey"),),
             comment="Base housing with the pan servo; origin = its bottom face, on the table."),
        Link("shoulder_link", 0.12, (
            Shape("cylinder", (0.040, 0.012), (0, 0, 0.006), "servo_white"),
            box((0.040, 0.056, 0.050), (0, 0, 0.035), "servo_white"))),
        Link("upper_arm_link", 0.10, (
            box((0.032, 0.036, UPPER_ARM + 0.02), (0, 0, UPPER_ARM / 2), "arm_yellow"),)),
        Link("forearm_link", 0.09, (
            box((0.028, 0.032, FOREARM + 0.01), (0, 0, FOREARM / 2), "arm_yellow"),)),
        Link("wrist_link", 0.06, (box((0.03, 0.04, WRIST), (0, 0, WRIST / 2), "servo_white"),)),
        Link("gripper_link", 0.07, (
            box((0.045, 0.076, PALM_H), (0, 0, PALM_H / 2), "gripper_black"),),
             comment="Gripper palm: +z is the approach axis, the fingers open along +-y."),
        finger("left", 1.0),
        finger("right", -1.0),
        Link("gripper_tcp", 0.0, comment=tcp_note),
        Link("wrist_camera", 0.01, (box((0.012, 0.024, 0.024), (-0.007, 0, 0), "camera_purple"),),
             comment=cam_note),
    )
    # fmt: on


def servo(name: str, parent: str, child: str, z: float, limits: tuple[float, float],
          axis: Vec3 = (0.0, 1.0, 0.0), comment: str = "") -> Joint:  # fmt: skip
    """An arm joint driven by an STS3215-class servo, ``z`` [m] above its parent's origin."""
    return Joint(name, "revolute", parent, child, (0, 0, z), axis=axis, lower=limits[0],
                 upper=limits[1], velocity=ARM_VELOCITY, effort=ARM_EFFORT,
                 damping=ARM_DAMPING, comment=comment)  # fmt: skip


def slide(side: str, axis: Vec3, comment: str = "") -> Joint:
    """A prismatic finger joint on the palm face."""
    return Joint(side + "_finger", "prismatic", "gripper_link", f"{side}_finger_link",
                 (0, 0, PALM_H), axis=axis, lower=0.0, upper=FINGER_TRAVEL,
                 velocity=FINGER_VELOCITY, effort=FINGER_EFFORT, damping=FINGER_DAMPING,
                 comment=comment)  # fmt: skip


def so101_joints() -> tuple[Joint, ...]:
    z_axis = (0.0, 0.0, 1.0)
    tcp = (0.0, 0.0, PALM_H + FINGER_L - TCP_FROM_TIP)
    # fmt: off
    return (
        servo("shoulder_pan", "base_link", "shoulder_link", BASE_H, (-2.0, 2.0), z_axis,
              comment="Yaw about +z; 0 faces +x."),
        servo("shoulder_lift", "shoulder_link", "upper_arm_link", SHOULDER_H, (-1.8, 1.8),
              comment="Flex joints (axis +y): 0 is straight up, positive leans toward +x."),
        servo("elbow_flex", "upper_arm_link", "forearm_link", UPPER_ARM, (-1.6, 2.5)),
        servo("wrist_flex", "forearm_link", "wrist_link", FOREARM, (-1.8, 1.8)),
        servo("wrist_roll", "wrist_link", "gripper_link", WRIST, (-2.8, 2.8), z_axis),
        slide("left", (0.0, 1.0, 0.0),
              comment="Fingers: 0 = closed (pads touch), 0.025 m each = open."),
        slide("right", (0.0, -1.0, 0.0)),
        Joint("gripper_tcp_joint", "fixed", "gripper_link", "gripper_tcp", tcp),
        Joint("wrist_camera_joint", "fixed", "gripper_link", "wrist_camera",
              (0.035, 0.0, PALM_H + 0.002), rpy=camera_rpy()),
    )
    # fmt: on


# ---- the scene -------------------------------------------------------------------------
TABLE_X = (-0.10, 0.70)  # table top extent along x [m]; the arm base sits at the origin
TABLE_Y = (-0.45, 0.45)  # [m]
TABLE_T = 0.030  # top thickness [m]
TABLE_LEG_H = 0.720  # legs reach the floor at z = -(TABLE_T + TABLE_LEG_H) = -0.75 m
OBJECT_FRICTION = (1.0, 0.001, 0.0001)

SCENE_HEADER = """
  {what}
  Authored for the teleop PyBullet sim from primitives by sim_assets/build_assets.py;
  edit that script, not this file. Units: m, kg. Load with p.URDF_USE_INERTIA_FROM_FILE.
"""


def table() -> Link:
    """Top and four legs in one link; origin = top surface, where the arm base goes."""
    lx, ly = TABLE_X[1] - TABLE_X[0], TABLE_Y[1] - TABLE_Y[0]
    shapes = [box((lx, ly, TABLE_T), (sum(TABLE_X) / 2, sum(TABLE_Y) / 2, -TABLE_T / 2),
                  "table_wood")]  # fmt: skip
    for x in (TABLE_X[0] + 0.04, TABLE_X[1] - 0.04):
        for y in (TABLE_Y[0] + 0.04, TABLE_Y[1] - 0.04):
            leg_centre = (x, y, -TABLE_T - TABLE_LEG_H / 2)
            shapes.append(box((0.04, 0.04, TABLE_LEG_H), leg_centre, "table_leg"))
    return Link("table", 20.0, tuple(shapes), friction=(0.7, 0.001, 0.0001))


def floor() -> Link:
    top = -(TABLE_T + TABLE_LEG_H)
    slab = box((4.0, 4.0, 0.02), (0.0, 0.0, top - 0.01), "floor_grey")
    return Link("floor", 100.0, (slab,), friction=(0.8, 0.001, 0.0001))


def graspable(path: str, what: str, shape: Shape, mass: float) -> Asset:
    """An object: one shape centred on the origin."""
    name = Path(path).stem
    link = Link(name, mass, (shape,), friction=OBJECT_FRICTION)
    return Asset(path, name, SCENE_HEADER.format(what=what), (link,))


def assets() -> tuple[Asset, ...]:
    table_note = (f"Table. Load fixed at the origin: top surface z = 0, x in {TABLE_X}, "
                  f"y in {TABLE_Y} [m];\n  the arm base goes at the origin.")  # fmt: skip
    floor_note = "Floor, 4 m x 4 m. Load fixed at the origin: its top is z = -0.75 m."
    # fmt: off
    return (
        Asset("so101/so101.urdf", "so101_sim", SO101_HEADER, so101_links(), so101_joints()),
        Asset("scene/table.urdf", "table", SCENE_HEADER.format(what=table_note), (table(),)),
        Asset("scene/floor.urdf", "floor", SCENE_HEADER.format(what=floor_note), (floor(),)),
        graspable("scene/cube_red_30mm.urdf",
                  "Red cube, 30 mm, 35 g. Origin at its centre: spawn at z = 0.015.",
                  box((0.03, 0.03, 0.03), (0, 0, 0), "object_red"), 0.035),
        graspable("scene/cube_green_25mm.urdf",
                  "Green cube, 25 mm, 20 g. Origin at its centre: spawn at z = 0.0125.",
                  box((0.025, 0.025, 0.025), (0, 0, 0), "object_green"), 0.020),
        graspable("scene/cylinder_blue.urdf",
                  "Blue cylinder, radius 15 mm, height 50 mm, 40 g, axis z.\n"
                  "  Origin at its centre: spawn upright at z = 0.025.",
                  Shape("cylinder", (0.015, 0.05), (0, 0, 0), "object_blue"), 0.040),
    )
    # fmt: on


def main(root: Path) -> None:
    for asset in assets():
        out = root / asset.path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(urdf_xml(asset, PALETTE))
        print(f"wrote {out} ({sum(link.mass for link in asset.links):.3f} kg)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
