"""The arm's kinematics: forward, inverse and velocity, checked, within the joint limits.

:class:`Kinematics` is what the rest of the code uses: it checks every input
(:mod:`.checks`), gets poses and Jacobians from the PyBullet-backed model
(:mod:`.model`) and leaves the solves to the pure arithmetic of :mod:`.solver`. Joint
vectors hold the arm joints only (no gripper), in [rad] (or [m] for a prismatic joint).
Poses, Jacobians and velocities are expressed in the *reference frame*: the frame in
which the arm's base link sits at ``base_position`` and ``base_orientation``. With the
defaults that is the base link's own frame.

An unreachable target is not an error: :meth:`Kinematics.ik_with_error` returns the
closest solution it found, with its residual.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray, RobotConfigError, RobotSpec
from robots.kinematics import checks, solver
from robots.kinematics.model import ArmModel


class Kinematics:
    """Forward and inverse kinematics of one arm.

    Each instance owns a private PyBullet client (see :class:`.model.ArmModel`), which the
    control thread and other threads may share. Use it as a context manager, or call
    :meth:`close`::

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
        self._lower = checks.limits("lower", lower, n)
        self._upper = checks.limits("upper", upper, n)
        if not np.all(self._lower < self._upper):
            raise RobotConfigError(f"lower limits {self._lower} must be below upper {self._upper}")
        self._model = ArmModel(
            Path(urdf_path), ee_link, self._names, base_position, base_orientation
        )

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
        return self._model.pose(self._joints("q", q))

    def jacobian(self, q: ArrayLike) -> FloatArray:
        """Geometric Jacobian of the end effector, (6, n): linear rows [m/rad], then angular.

        Raises:
            IKError: ``q`` has the wrong length or is not finite.
        """
        return self._model.pose_and_jacobian(self._joints("q", q))[2]

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
        target_p = checks.vector("position", position, 3)
        target_r = None if orientation is None else tuple(checks.quaternion(orientation).tolist())
        seed = (self._lower + self._upper) / 2 if q_seed is None else q_seed
        q = np.clip(self._joints("q_seed", seed), self._lower, self._upper)
        tol = (checks.nonnegative("tol_m", tol_m), checks.nonnegative("tol_rad", tol_rad))
        iters = max(1, int(checks.nonnegative("max_iters", max_iters)))
        model, lower, upper = self._model.pose_and_jacobian, self._lower, self._upper
        best = solver.descend(model, q, target_p, target_r, lower, upper, iters, tol)
        if best[1] <= tol[0] and best[2] <= tol[1]:
            return best
        count = int(checks.nonnegative("restarts", restarts))
        return solver.restart(
            model, best, target_p, target_r, lower, upper, max_iters=iters, tol=tol, restarts=count
        )

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
        dt = checks.nonnegative("dt", dt)
        lin = checks.vector("linear", linear, 3) * dt
        ang = checks.vector("angular", angular, 3) * dt
        weight = (
            None if angular_weight is None else checks.nonnegative("angular_weight", angular_weight)
        )
        if not (lin.any() or ang.any()):
            return q_arr
        jac = self._model.pose_and_jacobian(q_arr)[2]
        return solver.velocity_step(jac, q_arr, lin, ang, self._lower, self._upper, weight)

    def close(self) -> None:
        """Disconnect the private PyBullet client; safe to call twice."""
        self._model.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _joints(self, name: str, q: ArrayLike) -> FloatArray:
        return checks.vector(name, q, len(self._names), labels=self._names)
