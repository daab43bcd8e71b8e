"""The arm's model: its URDF loaded into a private PyBullet client, for poses and Jacobians.

Each :class:`ArmModel` owns its own ``pybullet.DIRECT`` client, so it never disturbs a
simulation's client, and guards it with a lock so that the control thread and other
threads may share one instance. PyBullet computes the link frames; the end-effector
pose is rebuilt from them in float64 and the geometric Jacobian from the joint axes
(:mod:`.solver` has the arithmetic). Poses are in the *reference frame*, where the base
link sits at the base pose given.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray, RobotConfigError
from robots.bullet import pybullet
from robots.kinematics import checks
from robots.kinematics.checks import IKError
from robots.kinematics.solver import Vec3, compose, conjugate, cross_rows, quat_rotate


class ArmModel:
    """One arm's URDF in a private PyBullet client.

    Args:
        urdf: The arm's URDF; meshes are not needed.
        ee_link: Name of the URDF link whose frame is the end effector.
        joint_names: URDF names of the arm joints, base to tip (no gripper).
        base_position: Where the base link sits in the reference frame, [m].
        base_orientation: Base link orientation in the reference frame, xyzw.

    Raises:
        RobotConfigError: The URDF cannot be loaded, a joint or the link is not in it,
            a joint does not move the end effector, or the base pose is malformed.
    """

    def __init__(
        self,
        urdf: Path,
        ee_link: str,
        joint_names: tuple[str, ...],
        base_position: ArrayLike,
        base_orientation: ArrayLike,
    ) -> None:
        self._names = joint_names
        self._ee_name = ee_link
        self._lock = threading.Lock()
        self._client: int | None = pybullet.connect(pybullet.DIRECT)
        try:
            self._load(urdf, base_position, base_orientation)
        except BaseException:
            self.close()
            raise

    def _load(self, urdf: Path, base_position: ArrayLike, base_orientation: ArrayLike) -> None:
        """Load the URDF and cache joint indices, types and axes."""
        client = self._client
        if client is None or client < 0:
            raise RobotConfigError("PyBullet could not start a DIRECT client for kinematics")
        try:
            base_p = checks.vector("base_position", base_position, 3)
            base_q = checks.quaternion(base_orientation)
        except IKError as exc:
            raise RobotConfigError(f"bad base pose: {exc}") from exc
        if not urdf.is_file():
            raise RobotConfigError(f"URDF not found: {urdf}")
        flags = pybullet.URDF_IGNORE_VISUAL_SHAPES | pybullet.URDF_IGNORE_COLLISION_SHAPES
        try:
            body = pybullet.loadURDF(
                str(urdf),
                base_p.tolist(),
                base_q.tolist(),
                useFixedBase=True,
                flags=flags,
                physicsClientId=client,
            )
        except pybullet.error as exc:
            raise RobotConfigError(f"PyBullet cannot load URDF {urdf}: {exc}") from exc
        infos = [
            pybullet.getJointInfo(body, i, physicsClientId=client)
            for i in range(pybullet.getNumJoints(body, physicsClientId=client))
        ]
        joints = {info[1].decode(): info for info in infos}
        links = {info[12].decode(): info[0] for info in infos}
        if self._ee_name not in links:
            raise RobotConfigError(
                f"end-effector link '{self._ee_name}' is not a child link in {urdf}; "
                f"links: {', '.join(links)}"
            )
        movable = (pybullet.JOINT_REVOLUTE, pybullet.JOINT_PRISMATIC)
        for name in self._names:
            if name not in joints or joints[name][2] not in movable:
                known = [k for k, v in joints.items() if v[2] in movable]
                raise RobotConfigError(
                    f"joint '{name}' is not a movable joint of {urdf}; movable joints: "
                    f"{', '.join(known)}"
                )
        self._body = body
        self._ee = links[self._ee_name]
        self._indices = [int(joints[name][0]) for name in self._names]
        self._check_chain(infos, urdf)
        self._revolute = np.array([joints[n][2] == pybullet.JOINT_REVOLUTE for n in self._names])
        self._all_revolute = bool(self._revolute.all())
        self._axes = [_unit(joints[n][13], n) for n in self._names]
        self._frame_links = [*self._indices, self._ee]
        # PyBullet places a link at its centre of mass; keep the fixed offset back to the
        # end-effector link's own frame.
        inertial = pybullet.getLinkState(body, self._ee, physicsClientId=client)
        inv_quat = conjugate(inertial[3])
        inv_pos = quat_rotate(inv_quat, inertial[2])
        self._ee_inertial_inv = ((-inv_pos[0], -inv_pos[1], -inv_pos[2]), inv_quat)

    def _check_chain(self, infos: list[tuple], urdf: Path) -> None:
        """Require every arm joint to lie between the base and the end-effector link."""
        ancestors = set()
        link = self._ee
        while link >= 0:
            ancestors.add(link)
            link = infos[link][16]
        for name, index in zip(self._names, self._indices, strict=True):
            if index not in ancestors:
                raise RobotConfigError(
                    f"joint '{name}' does not move end-effector link '{self._ee_name}' in {urdf}"
                )

    def pose(self, q: FloatArray) -> tuple[FloatArray, FloatArray]:
        """End-effector position [m] and xyzw quaternion at ``q`` [rad].

        Raises:
            IKError: The model is closed.
        """
        ee_p, ee_q, _, _ = self._state(q)
        return ee_p, ee_q

    def pose_and_jacobian(self, q: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """End-effector position [m], xyzw quaternion and (6, n) Jacobian at ``q`` [rad].

        Raises:
            IKError: The model is closed.
        """
        ee_p, ee_q, origins, axes = self._state(q)
        jac = np.empty((6, len(self._indices)))
        if self._all_revolute:
            jac[:3] = cross_rows(axes, ee_p - origins).T
            jac[3:] = axes.T
        else:
            rev = self._revolute[:, None]
            jac[:3] = np.where(rev, cross_rows(axes, ee_p - origins), axes).T
            jac[3:] = np.where(rev, axes, 0.0).T
        return ee_p, ee_q, jac

    def close(self) -> None:
        """Disconnect the private PyBullet client; safe to call twice."""
        with self._lock:
            if self._client is not None and self._client >= 0:
                pybullet.disconnect(physicsClientId=self._client)
                self._client = None

    def _state(self, q: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Frames at ``q``: end-effector position [m] and xyzw quaternion, then each arm
        joint's origin (n, 3) [m] and unit axis (n, 3), all in the reference frame."""
        with self._lock:
            if self._client is None:
                raise IKError("this Kinematics is closed; create a new one")
            pybullet.resetJointStatesMultiDof(
                self._body,
                self._indices,
                [[v] for v in q.tolist()],
                physicsClientId=self._client,
            )
            states = pybullet.getLinkStates(
                self._body,
                self._frame_links,
                computeForwardKinematics=1,
                physicsClientId=self._client,
            )
        # Joint frames come from PyBullet's float32 link frames: ~1e-7 relative error in
        # the Jacobian is harmless. The end-effector pose is rebuilt in float64 from the
        # (float64) centre-of-mass frame, because users compare it to a tolerance.
        origins = np.array([s[4] for s in states[:-1]])
        axes = np.array(
            [
                pybullet.rotateVector(s[5], axis)
                for s, axis in zip(states[:-1], self._axes, strict=True)
            ]
        )
        ee_p, ee_q = compose(states[-1][0], states[-1][1], *self._ee_inertial_inv)
        return np.array(ee_p), np.array(ee_q), origins, axes


def _unit(axis: Sequence[float], joint: str) -> Vec3:
    """A joint axis scaled to unit length."""
    norm = math.sqrt(sum(a * a for a in axis))
    if norm < 1e-9:
        raise RobotConfigError(f"joint '{joint}' has a zero-length axis in the URDF")
    return (axis[0] / norm, axis[1] / norm, axis[2] / norm)
