"""URDF from primitive shapes, with masses and inertias computed from the shapes.

Used by ``build_assets.py``, which holds the models themselves.

Each link is a list of boxes and cylinders. A link's mass is shared among its shapes in
proportion to their volumes (uniform density). Its inertia tensor about the centre of
mass is the sum of each solid's own tensor, rotated into the link frame, plus the
parallel-axis term ``m (|d|^2 E - d d^T)``. Solid box (edges a, b, c):
``Ixx = m (b^2 + c^2) / 12`` and so on. Solid cylinder (radius r, length h, axis z):
``Ixx = Iyy = m (3 r^2 + h^2) / 12``, ``Izz = m r^2 / 2``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

Vec3 = tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Shape:
    """A solid primitive in a link frame.

    Attributes:
        kind: ``"box"`` (size: x, y, z edges in [m]) or ``"cylinder"`` (size: radius,
            length in [m]; axis along the shape's own z).
        size: See ``kind``.
        xyz: Centre of the shape in the link frame, in [m].
        material: Name of the visual material (a key of the palette given to ``urdf_xml``).
        rpy: Orientation in the link frame, URDF fixed-axis roll-pitch-yaw in [rad].
    """

    kind: str
    size: tuple[float, ...]
    xyz: Vec3
    material: str
    rpy: Vec3 = (0.0, 0.0, 0.0)

    @property
    def volume(self) -> float:
        """Volume in [m^3]."""
        if self.kind == "box":
            x, y, z = self.size
            return x * y * z
        r, h = self.size
        return math.pi * r * r * h

    def own_inertia(self, mass: float) -> np.ndarray:
        """Solid-body inertia about the shape's centre, in the shape frame, [kg m^2]."""
        if self.kind == "box":
            x, y, z = self.size
            return np.diag([y * y + z * z, x * x + z * z, x * x + y * y]) * mass / 12.0
        r, h = self.size
        side = mass * (3 * r * r + h * h) / 12.0
        return np.diag([side, side, mass * r * r / 2.0])

    def geometry_xml(self) -> str:
        if self.kind == "box":
            return f'<box size="{_v(self.size)}"/>'
        return f'<cylinder radius="{_f(self.size[0])}" length="{_f(self.size[1])}"/>'


@dataclasses.dataclass(frozen=True)
class Link:
    """A link.

    Attributes:
        name: URDF link name.
        mass: Mass in [kg]; 0 with no shapes makes a massless frame.
        shapes: Visual and collision geometry, which also sets the inertia.
        friction: URDF ``<contact>`` lateral, spinning and rolling friction coefficients.
        contact: Contact stiffness [N/m] and damping [N s/m]; None keeps contacts rigid.
        comment: Written above the link.
    """

    name: str
    mass: float
    shapes: tuple[Shape, ...] = ()
    friction: Vec3 | None = None
    contact: tuple[float, float] | None = None
    comment: str = ""


@dataclasses.dataclass(frozen=True)
class Joint:
    """A joint. Limits in [rad] or [m], velocity in [rad/s] or [m/s], effort in [N m] or
    [N], damping in [N m s/rad] or [N s/m]."""

    name: str
    kind: str
    parent: str
    child: str
    xyz: Vec3
    rpy: Vec3 = (0.0, 0.0, 0.0)
    axis: Vec3 = (0.0, 0.0, 1.0)
    lower: float = 0.0
    upper: float = 0.0
    velocity: float = 0.0
    effort: float = 0.0
    damping: float = 0.0
    comment: str = ""


@dataclasses.dataclass(frozen=True)
class Asset:
    """One URDF file: its path under sim_assets/, robot name, header comment and parts."""

    path: str
    name: str
    header: str
    links: tuple[Link, ...]
    joints: tuple[Joint, ...] = ()


def _f(x: float) -> str:
    s = f"{x:.6g}"
    return "0" if s == "-0" else s


def _v(v: tuple[float, ...]) -> str:
    return " ".join(_f(x) for x in v)


def rpy_matrix(rpy: Vec3) -> np.ndarray:
    """URDF roll-pitch-yaw to a rotation matrix: Rz(yaw) Ry(pitch) Rx(roll)."""
    r, p, y = rpy
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx, dtype=np.float64)


def matrix_rpy(m: np.ndarray) -> Vec3:
    """Inverse of ``rpy_matrix``, valid away from pitch = +-pi/2."""
    pitch = math.asin(-max(-1.0, min(1.0, float(m[2, 0]))))
    return (math.atan2(m[2, 1], m[2, 2]), pitch, math.atan2(m[1, 0], m[0, 0]))


def mass_properties(link: Link) -> tuple[np.ndarray, np.ndarray]:
    """Centre of mass [m] and inertia tensor about it [kg m^2], both in the link frame."""
    total = sum(s.volume for s in link.shapes)
    masses = [link.mass * s.volume / total for s in link.shapes]
    com = sum(m * np.array(s.xyz) for m, s in zip(masses, link.shapes, strict=True))
    com = np.asarray(com) / link.mass
    inertia = np.zeros((3, 3))
    for m, s in zip(masses, link.shapes, strict=True):
        rot = rpy_matrix(s.rpy)
        d = np.array(s.xyz) - com
        inertia += rot @ s.own_inertia(m) @ rot.T + m * (d @ d * np.eye(3) - np.outer(d, d))
    return com, inertia


def inertial_xml(link: Link) -> list[str]:
    if not link.shapes:
        # Without an <inertial>, PyBullet would give this frame 1 kg and unit inertia.
        com, i = np.zeros(3), np.zeros((3, 3))
    else:
        com, i = mass_properties(link)
    return [
        "    <inertial>",
        f'      <origin xyz="{_v(tuple(com))}" rpy="0 0 0"/>',
        f'      <mass value="{_f(link.mass)}"/>',
        f'      <inertia ixx="{i[0, 0]:.4e}" ixy="{i[0, 1]:.4e}" ixz="{i[0, 2]:.4e}"'
        f' iyy="{i[1, 1]:.4e}" iyz="{i[1, 2]:.4e}" izz="{i[2, 2]:.4e}"/>',
        "    </inertial>",
    ]


def contact_xml(link: Link) -> list[str]:
    if link.friction is None:
        return []
    lateral, spinning, rolling = link.friction
    lines = [
        "    <contact>",
        f'      <lateral_friction value="{_f(lateral)}"/>',
        f'      <spinning_friction value="{_f(spinning)}"/>',
        f'      <rolling_friction value="{_f(rolling)}"/>',
    ]
    if link.contact is not None:
        k, c = link.contact
        lines += [f'      <stiffness value="{_f(k)}"/>', f'      <damping value="{_f(c)}"/>']
    return [*lines, "    </contact>"]


def link_xml(link: Link) -> str:
    lines = [f"  <!-- {link.comment} -->"] if link.comment else []
    lines += [f'  <link name="{link.name}">', *inertial_xml(link)]
    for tag in ("visual", "collision"):
        for s in link.shapes:
            lines += [
                f"    <{tag}>",
                f'      <origin xyz="{_v(s.xyz)}" rpy="{_v(s.rpy)}"/>',
                f"      <geometry>{s.geometry_xml()}</geometry>",
            ]
            if tag == "visual":
                lines.append(f'      <material name="{s.material}"/>')
            lines.append(f"    </{tag}>")
    lines += [*contact_xml(link), "  </link>"]
    return "\n".join(lines)


def joint_xml(j: Joint) -> str:
    lines = [f"  <!-- {j.comment} -->"] if j.comment else []
    lines += [
        f'  <joint name="{j.name}" type="{j.kind}">',
        f'    <parent link="{j.parent}"/>',
        f'    <child link="{j.child}"/>',
        f'    <origin xyz="{_v(j.xyz)}" rpy="{_v(j.rpy)}"/>',
    ]
    if j.kind != "fixed":
        lines += [
            f'    <axis xyz="{_v(j.axis)}"/>',
            f'    <limit lower="{_f(j.lower)}" upper="{_f(j.upper)}"'
            f' velocity="{_f(j.velocity)}" effort="{_f(j.effort)}"/>',
            f'    <dynamics damping="{_f(j.damping)}" friction="0"/>',
        ]
    lines.append("  </joint>")
    return "\n".join(lines)


def urdf_xml(asset: Asset, palette: Mapping[str, tuple[float, float, float, float]]) -> str:
    """The whole URDF document for one asset; ``palette`` maps material names to RGBA."""
    used = sorted({s.material for link in asset.links for s in link.shapes})
    parts = ['<?xml version="1.0"?>', f"<!--{asset.header}-->", f'<robot name="{asset.name}">']
    parts += [f'  <material name="{m}"><color rgba="{_v(palette[m])}"/></material>' for m in used]
    parts += [link_xml(link) for link in asset.links]
    parts += [joint_xml(j) for j in asset.joints]
    return "\n".join([*parts, "</robot>\n"])
