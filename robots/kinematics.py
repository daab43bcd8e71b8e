"""Forward and inverse kinematics of an arm, from its URDF, in a private PyBullet client.

Each :class:`Kinematics` owns its own ``pybullet.DIRECT`` client, so it never disturbs a
simulation's client, and guards it with a lock so that the control thread and other
threads may share one instance. Joint vectors hold the arm joints only (no gripper), in
[rad] (or [m] for a prismatic joint). Poses, Jacobians and velocities are expressed in
the *reference frame*: the frame in which the arm's base link sits at ``base_position``
and ``base_orientation``. With the defaults that is the base link's own frame.

Exception tree (the root is ``robots.base.RobotError``)::

    RobotError
    ├── IKError             a bad input: wrong length, NaN or ±inf, zero quaternion;
    │                       also any call after close()
    └── RobotConfigError    the URDF, a joint name, the end-effector link or a limit is wrong

An unreachable target is not an error: :meth:`Kinematics.ik_with_error` returns the
closest solution it found, with its residual.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray, RobotConfigError, RobotError, RobotSpec
from robots.bullet import pybullet

# Damping grows from 0 to these values as the smallest singular value of the (weighted)
# Jacobian falls below them, so away from singularities the solve is exact. Velocity
# steps damp harder (a smooth, slower path through a singularity); IK damps lightly so it
# can still reach targets at the edge of the workspace, and limits its steps instead.
_VELOCITY_DAMPING = 0.03
_IK_DAMPING = 0.005
_MAX_IK_JOINT_STEP_RAD = 0.3
# Singular values below this count as zero when building null-space projectors.
_RANK_EPS = 1e-6
# IK linearizes the arm, so each iteration chases at most this much of the error.
_MAX_IK_POSITION_STEP_M = 0.1
_MAX_IK_ROTATION_STEP_RAD = 0.5
_ZERO3 = np.zeros(3)
# An IK descent stops when no joint moves by more than _STALL_RAD in one iteration, or
# when _STALE_ITERS iterations in a row improve the error by less than 1 % of tolerance.
_STALL_RAD = 1e-8
_STALE_ITERS = 10


class IKError(RobotError):
    """A kinematics call got an input it cannot use (wrong length, NaN or ±inf), or the
    :class:`Kinematics` was already closed."""


Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


def _quat_mul(a: Sequence[float], b: Sequence[float]) -> Quat:
    """Hamilton product of two xyzw quaternions (plain floats: faster than numpy here)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def _quat_rotate(quat: Sequence[float], vec: Sequence[float]) -> Vec3:
    """``vec`` rotated by the unit xyzw quaternion ``quat``."""
    x, y, z, _ = _quat_mul(_quat_mul(quat, (*vec, 0.0)), _conjugate(quat))
    return (x, y, z)


def _conjugate(quat: Sequence[float]) -> Quat:
    return (-quat[0], -quat[1], -quat[2], quat[3])


def _compose(
    pos_a: Sequence[float], quat_a: Sequence[float], pos_b: Vec3, quat_b: Quat
) -> tuple[Vec3, Quat]:
    """The pose ``a * b``, in float64 (``pybullet.multiplyTransforms`` rounds to float32)."""
    offset = _quat_rotate(quat_a, pos_b)
    position = (pos_a[0] + offset[0], pos_a[1] + offset[1], pos_a[2] + offset[2])
    return position, _quat_mul(quat_a, quat_b)


def _rotation_error(target: Sequence[float], current: Sequence[float]) -> FloatArray:
    """Rotation vector [rad] that turns ``current`` into ``target``, in the reference frame."""
    x, y, z, w = _quat_mul(target, _conjugate(current))
    if w < 0.0:  # q and -q are the same rotation; take the short way round
        x, y, z, w = -x, -y, -z, -w
    sin_half = math.sqrt(x * x + y * y + z * z)
    scale = 2.0 if sin_half < 1e-12 else 2.0 * math.atan2(sin_half, w) / sin_half
    return np.array((scale * x, scale * y, scale * z))


def _cross_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross product of (k, 3) arrays (``np.cross`` is slow on small arrays)."""
    return a[:, _NEXT] * b[:, _PREV] - a[:, _PREV] * b[:, _NEXT]


_NEXT = np.array([1, 2, 0])
_PREV = np.array([2, 0, 1])


def _damped_solve(
    jac: FloatArray, err: FloatArray, damping: float
) -> tuple[FloatArray, FloatArray]:
    """Least-squares ``dq`` with ``jac @ dq ≈ err``, damped only near singularities.

    Returns:
        ``dq`` and an orthonormal basis (rows) of the joint motions the task uses.
    """
    u, s, vt = np.linalg.svd(jac, full_matrices=False)
    # Singular values at rounding level are directions the task cannot use at all (as
    # for a secondary task projected into a null space): drop them, damp by the rest.
    rank = int(np.count_nonzero(s > _RANK_EPS))
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    if rank == 0:
        return np.zeros(jac.shape[1]), vt
    damping_sq = max(damping * damping - s[-1] * s[-1], 0.0)
    gains = s / (s * s + damping_sq)
    return vt.T @ (gains * (u.T @ err)), vt


def _prioritized_solve(
    tasks: Sequence[tuple[FloatArray, FloatArray]], damping: float
) -> FloatArray:
    """Solve tasks in strict priority: each one only uses the null space of those before.

    Args:
        tasks: ``(jacobian (m, n), error (m,))`` pairs, most important first.
        damping: Largest damping factor, in the tasks' units.
    """
    jac, err = tasks[0]
    dq, used = _damped_solve(jac, err, damping)
    if len(tasks) == 1:
        return dq
    projector = np.eye(dq.size) - used.T @ used
    for jac, err in tasks[1:]:
        projected = jac @ projector
        step, used = _damped_solve(projected, err - jac @ dq, damping)
        dq = dq + step
        projector = projector - used.T @ used
    return dq


def _limited_step(
    q: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    tasks: Sequence[tuple[FloatArray, FloatArray]],
    damping: float,
) -> FloatArray:
    """A joint step for ``tasks`` (in priority order) that keeps ``q + dq`` within limits.

    A joint that would cross a limit is parked on it and the tasks are solved again with
    the remaining joints, so the others make up for it instead of the step just being
    clipped (which would bend the end-effector's path).
    """
    free = np.ones(q.size, dtype=bool)
    fixed_dq = np.zeros(q.size)
    dq = fixed_dq
    for _ in range(q.size):
        reduced = [(jac[:, free], err - jac @ fixed_dq) for jac, err in tasks]
        dq = fixed_dq.copy()
        dq[free] = _prioritized_solve(reduced, damping)
        target = q + dq
        over = free & ((target > upper) | (target < lower))
        if not over.any():
            break
        fixed_dq[over] = np.clip(target[over], lower[over], upper[over]) - q[over]
        free &= ~over
        if not free.any():
            return fixed_dq
    return dq


class Kinematics:
    """Forward and inverse kinematics of one arm.

    Use it as a context manager, or call :meth:`close`::

        with Kinematics.from_spec(robot.spec) as kin:
            position, quat = kin.fk(q_arm)
    """

    def __init__(
        self,
        urdf_path: Path,
        ee_link: str,
        joint_names: Sequence[str],
        lower: ArrayLike,
        upper: ArrayLike,
        base_position: ArrayLike = (0.0, 0.0, 0.0),
        base_orientation: ArrayLike = (0.0, 0.0, 0.0, 1.0),
    ) -> None:
        """Load the arm into a private PyBullet client.

        Args:
            urdf_path: The arm's URDF; meshes are not needed.
            ee_link: Name of the URDF link whose frame is the end effector.
            joint_names: URDF names of the arm joints, base to tip (no gripper).
            lower: Lowest position of each joint, [rad] (or [m] if prismatic).
            upper: Highest position of each joint, [rad] (or [m] if prismatic).
            base_position: Where the base link sits in the reference frame, [m].
            base_orientation: Base link orientation in the reference frame, xyzw.

        Raises:
            RobotConfigError: The URDF cannot be loaded, a joint or the link is not in it,
                a joint does not move the end effector, or the limits are malformed.
        """
        self._names = tuple(joint_names)
        n = len(self._names)
        if n == 0:
            raise RobotConfigError("kinematics needs at least one arm joint name")
        self._lower = self._limits("lower", lower, n)
        self._upper = self._limits("upper", upper, n)
        if not np.all(self._lower < self._upper):
            raise RobotConfigError(f"lower limits {self._lower} must be below upper {self._upper}")
        self._ee_name = ee_link
        self._lock = threading.Lock()
        self._client: int | None = pybullet.connect(pybullet.DIRECT)
        try:
            self._load(Path(urdf_path), base_position, base_orientation)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_spec(cls, spec: RobotSpec) -> Kinematics:
        """Kinematics for a robot's arm joints (the gripper, last in the spec, is left out).

        Raises:
            RobotConfigError: The spec has no URDF or no end-effector link.
        """
        if spec.urdf_path is None or not spec.ee_link:
            raise RobotConfigError(
                f"robot '{spec.name}' needs urdf_path and ee_link in its spec for kinematics"
            )
        names = spec.urdf_joint_names or spec.arm_joint_names
        return cls(spec.urdf_path, spec.ee_link, names, spec.lower[:-1], spec.upper[:-1])

    @property
    def joint_names(self) -> tuple[str, ...]:
        """URDF names of the arm joints, in the order of every joint vector."""
        return self._names

    @property
    def lower(self) -> FloatArray:
        """Lower joint limits, [rad] (a copy)."""
        return self._lower.copy()

    @property
    def upper(self) -> FloatArray:
        """Upper joint limits, [rad] (a copy)."""
        return self._upper.copy()

    def fk(self, q: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Pose of the end-effector link.

        Args:
            q: Arm joint positions, [rad].

        Returns:
            Position (3,) in [m] and orientation (4,) as an xyzw quaternion.

        Raises:
            IKError: ``q`` has the wrong length or is not finite.
        """
        ee_p, ee_q, _, _ = self._state(self._joints("q", q))
        return ee_p, ee_q

    def jacobian(self, q: ArrayLike) -> FloatArray:
        """Geometric Jacobian of the end effector, (6, n): linear rows [m/rad], then angular.

        Raises:
            IKError: ``q`` has the wrong length or is not finite.
        """
        return self._pose_and_jacobian(self._joints("q", q))[2]

    def ik(
        self,
        position: ArrayLike,
        orientation: ArrayLike | None = None,
        q_seed: ArrayLike | None = None,
        *,
        max_iters: int = 100,
        tol_m: float = 1e-4,
        tol_rad: float = 1e-3,
        restarts: int = 8,
    ) -> FloatArray:
        """Joint positions that put the end effector at a pose; see :meth:`ik_with_error`."""
        return self.ik_with_error(
            position,
            orientation,
            q_seed,
            max_iters=max_iters,
            tol_m=tol_m,
            tol_rad=tol_rad,
            restarts=restarts,
        )[0]

    def ik_with_error(
        self,
        position: ArrayLike,
        orientation: ArrayLike | None = None,
        q_seed: ArrayLike | None = None,
        *,
        max_iters: int = 100,
        tol_m: float = 1e-4,
        tol_rad: float = 1e-3,
        restarts: int = 8,
    ) -> tuple[FloatArray, float, float]:
        """Inverse kinematics by damped least squares, always within the joint limits.

        Weights: position is the primary task; orientation is pursued only with joint
        motion that leaves the position unchanged (the null space of the position
        Jacobian). Where the two conflict, as they often do for arms with fewer than 6
        joints, orientation thus weighs nothing against position; where they don't, both
        are met. Every iteration stays within the limits: a joint that reaches one is
        held there and the others carry on.

        An unreachable target is not an error: the result is the closest solution found,
        smallest position error first, then smallest orientation error. Check the
        returned errors.

        When the descent from ``q_seed`` misses the tolerance (a joint limit or a local
        minimum in the way), it is retried from ``restarts`` fixed, spread-out starts; a
        restart's answer is kept only if it is better by more than the tolerance, so the
        result stays near the seed when it can. An iteration costs about 0.1 ms and a
        descent also stops once it stops making progress, so a reachable target near the
        seed takes well under 1 ms, while an unmet one (or an orientation that a 5-joint
        arm cannot reach) runs every restart, typically 10-60 ms. Pass ``restarts=0``
        for a quick local answer.

        Args:
            position: Target position (3,), [m].
            orientation: Target orientation (4,), xyzw; None for position only.
            q_seed: Start, [rad]; defaults to the middle of the limits. Clipped into them.
            max_iters: Iteration budget of each descent.
            tol_m: Done when the position error is at most this, [m] ...
            tol_rad: ... and the orientation error is at most this, [rad].
            restarts: How many more starts to try if the first descent misses.

        Returns:
            ``(q, position_error_m, rotation_error_rad)``: joint positions within the
            limits [rad], and the residual errors of that solution. The rotation error is
            0 when ``orientation`` is None.

        Raises:
            IKError: An input has the wrong shape or is not finite, or a tolerance or
                count is negative.
        """
        target_p = self._vector("position", position, 3)
        target_r = None if orientation is None else tuple(self._quaternion(orientation).tolist())
        seed = (self._lower + self._upper) / 2 if q_seed is None else q_seed
        q = np.clip(self._joints("q_seed", seed), self._lower, self._upper)
        tol = (self._nonnegative("tol_m", tol_m), self._nonnegative("tol_rad", tol_rad))
        iters = max(1, int(self._nonnegative("max_iters", max_iters)))
        best = self._descend(q, target_p, target_r, iters, tol)
        if best[1] <= tol[0] and best[2] <= tol[1]:
            return best
        # Damped least squares finds the solution its start leads to, and a joint limit
        # can block the way. Fixed (seeded) restarts keep the result repeatable.
        count = int(self._nonnegative("restarts", restarts))
        for start in np.random.default_rng(0).uniform(self._lower, self._upper, (count, q.size)):
            found = self._descend(start, target_p, target_r, iters, tol)
            if _closer(found, best, tol, margin=tol):
                best = found
            if best[1] <= tol[0] and best[2] <= tol[1]:
                break
        return best

    def _descend(
        self,
        q: FloatArray,
        target_p: FloatArray,
        target_r: Quat | None,
        max_iters: int,
        tol: tuple[float, float],
    ) -> tuple[FloatArray, float, float]:
        """Damped-least-squares descent from ``q``; the best iterate and its errors."""
        best = (q, math.inf, math.inf)
        progress = (0.01 * tol[0], 0.01 * tol[1])
        stale = 0
        for _ in range(max_iters):
            p, quat, jac = self._pose_and_jacobian(q)
            e_p = target_p - p
            e_r = _ZERO3 if target_r is None else _rotation_error(target_r, quat.tolist())
            found = (q, float(np.linalg.norm(e_p)), float(np.linalg.norm(e_r)))
            stale = 0 if _closer(found, best, tol, progress) else stale + 1
            if _closer(found, best, tol):
                best = found
            if (found[1] <= tol[0] and found[2] <= tol[1]) or stale >= _STALE_ITERS:
                break
            tasks = [(jac[:3], _clip_norm(e_p, _MAX_IK_POSITION_STEP_M))]
            if target_r is not None:
                tasks.append((jac[3:], _clip_norm(e_r, _MAX_IK_ROTATION_STEP_RAD)))
            dq = _limited_step(q, self._lower, self._upper, tasks, _IK_DAMPING)
            largest = float(np.max(np.abs(dq)))
            if largest < _STALL_RAD:
                break
            if largest > _MAX_IK_JOINT_STEP_RAD:
                dq *= _MAX_IK_JOINT_STEP_RAD / largest
            q = np.clip(q + dq, self._lower, self._upper)
        return best

    def velocity_step(
        self,
        q: ArrayLike,
        linear: ArrayLike,
        angular: ArrayLike,
        dt: float,
        *,
        angular_weight: float | None = None,
    ) -> FloatArray:
        """The next joint target for an end-effector velocity command (one control tick).

        Solves ``J dq = [linear; angular] * dt`` by damped least squares (damped only near
        a singularity). Weights, when the arm cannot do both (fewer than 6 joints, or a
        joint on its limit):

        - ``angular_weight=None`` (default): linear velocity has strict priority and the
          angular command gets only the joint motion left over. A 5-joint arm moves at
          the commanded speed in every direction and gives up the rotation it can't make
          (for example it must yaw to move sideways), and a zero angular command holds
          the orientation as well as that allows.
        - a number [m/rad]: one least-squares problem in which 1 rad/s of angular error
          costs as much as ``angular_weight`` m/s of linear error; linear speed is then
          traded against rotation.

        A joint that would cross a limit stops on it and the others make up for it where
        they can.

        Args:
            q: Current arm joint positions, [rad].
            linear: End-effector linear velocity (3,), reference frame, [m/s].
            angular: End-effector angular velocity (3,), reference frame, [rad/s].
            dt: Tick length, [s].
            angular_weight: None for linear-first, or the weight of angular against
                linear velocity, [m/rad].

        Returns:
            Joint targets within the limits, [rad]. Exactly ``q`` (clipped into the
            limits) when both velocities are zero or ``dt`` is 0.

        Raises:
            IKError: An input has the wrong shape or is not finite, or ``dt`` or
                ``angular_weight`` is negative.
        """
        q_arr = np.clip(self._joints("q", q), self._lower, self._upper)
        dt = self._nonnegative("dt", dt)
        lin = self._vector("linear", linear, 3) * dt
        ang = self._vector("angular", angular, 3) * dt
        weight = (
            None if angular_weight is None else self._nonnegative("angular_weight", angular_weight)
        )
        if not (lin.any() or ang.any()):
            return q_arr
        jac = self._pose_and_jacobian(q_arr)[2]
        if weight is None:
            tasks = [(jac[:3], lin), (jac[3:], ang)]
        else:
            jac[3:] *= weight
            tasks = [(jac, np.concatenate([lin, ang * weight]))]
        dq = _limited_step(q_arr, self._lower, self._upper, tasks, _VELOCITY_DAMPING)
        return np.clip(q_arr + dq, self._lower, self._upper)

    def close(self) -> None:
        """Disconnect the private PyBullet client; safe to call twice."""
        with self._lock:
            if self._client is not None and self._client >= 0:
                pybullet.disconnect(physicsClientId=self._client)
                self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _load(self, urdf: Path, base_position: ArrayLike, base_orientation: ArrayLike) -> None:
        """Load the URDF and cache joint indices, types and axes."""
        client = self._client
        if client is None or client < 0:
            raise RobotConfigError("PyBullet could not start a DIRECT client for kinematics")
        try:
            base_p = self._vector("base_position", base_position, 3)
            base_q = self._quaternion(base_orientation)
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
        inv_quat = _conjugate(inertial[3])
        inv_pos = _quat_rotate(inv_quat, inertial[2])
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
        ee_p, ee_q = _compose(states[-1][0], states[-1][1], *self._ee_inertial_inv)
        return np.array(ee_p), np.array(ee_q), origins, axes

    def _pose_and_jacobian(self, q: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """End-effector position [m], xyzw quaternion and (6, n) Jacobian at ``q``."""
        ee_p, ee_q, origins, axes = self._state(q)
        jac = np.empty((6, len(self._indices)))
        if self._all_revolute:
            jac[:3] = _cross_rows(axes, ee_p - origins).T
            jac[3:] = axes.T
        else:
            rev = self._revolute[:, None]
            jac[:3] = np.where(rev, _cross_rows(axes, ee_p - origins), axes).T
            jac[3:] = np.where(rev, axes, 0.0).T
        return ee_p, ee_q, jac

    def _joints(self, name: str, q: ArrayLike) -> FloatArray:
        return self._vector(name, q, len(self._names), labels=self._names)

    @staticmethod
    def _vector(name: str, value: ArrayLike, size: int, labels: Sequence[str] = ()) -> FloatArray:
        """``value`` as a float64 vector of ``size`` finite entries, or IKError."""
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise IKError(f"{name} is not a numeric vector: {exc}") from exc
        if arr.shape != (size,):
            what = f": {', '.join(labels)}" if labels else ""
            raise IKError(f"{name} has shape {arr.shape}, expected ({size},){what}")
        finite = np.isfinite(arr)
        if not finite.all():
            i = int(np.argmin(finite))
            where = f"'{labels[i]}'" if labels else f"[{i}]"
            raise IKError(f"{name} {where} is {arr[i]}; every entry must be finite")
        return arr

    @classmethod
    def _quaternion(cls, value: ArrayLike) -> FloatArray:
        arr = cls._vector("orientation (xyzw quaternion)", value, 4)
        norm = float(np.linalg.norm(arr))
        if norm < 1e-9:
            raise IKError(f"orientation {arr.tolist()} has zero length; expected xyzw")
        return arr / norm

    @staticmethod
    def _nonnegative(name: str, value: float) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise IKError(f"{name} is {value!r}; expected a finite number >= 0") from exc
        if not math.isfinite(number) or number < 0.0:
            raise IKError(f"{name} is {value}; expected a finite number >= 0")
        return number

    @staticmethod
    def _limits(name: str, value: ArrayLike, size: int) -> FloatArray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (size,) or not np.all(np.isfinite(arr)):
            raise RobotConfigError(f"{name} limits {arr.tolist()} must be {size} finite numbers")
        return arr


def _unit(axis: Sequence[float], joint: str) -> Vec3:
    """A joint axis scaled to unit length."""
    norm = math.sqrt(sum(a * a for a in axis))
    if norm < 1e-9:
        raise RobotConfigError(f"joint '{joint}' has a zero-length axis in the URDF")
    return (axis[0] / norm, axis[1] / norm, axis[2] / norm)


def _closer(
    a: tuple[FloatArray, float, float],
    b: tuple[FloatArray, float, float],
    tol: tuple[float, float],
    margin: tuple[float, float] = (0.0, 0.0),
) -> bool:
    """Whether IK result ``a`` beats ``b`` by more than ``margin``: position first (errors
    below ``tol[0]`` count as equal), then orientation."""
    pos_a, pos_b = max(a[1], tol[0]), max(b[1], tol[0])
    if pos_a < pos_b - margin[0]:
        return True
    return pos_a <= pos_b and a[2] < b[2] - margin[1]


def _clip_norm(vec: FloatArray, limit: float) -> FloatArray:
    """``vec`` scaled down to length ``limit`` if it is longer."""
    norm = float(np.linalg.norm(vec))
    return vec if norm <= limit else vec * (limit / norm)
