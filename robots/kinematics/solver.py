"""The kinematics' arithmetic: quaternions and damped least-squares solves, no PyBullet.

Pure functions over floats and numpy arrays, in SI units: positions in [m], angles in
[rad], quaternions as xyzw. :class:`~robots.kinematics.model.Kinematics` gets the
end-effector pose and Jacobian from its PyBullet client and hands them to these:

- :func:`quat_mul`, :func:`quat_rotate`, :func:`conjugate`, :func:`compose`,
  :func:`rotation_error`: poses in float64 (PyBullet's own helpers round to float32);
- :func:`damped_solve`, :func:`prioritized_solve`, :func:`limited_step`: a joint step
  for tasks in strict priority, damped only near singularities, within joint limits;
- :func:`velocity_step`: one control tick of an end-effector velocity command;
- :func:`descend` and :func:`restart`: inverse kinematics by damped least squares,
  from a seed and then from fixed restarts; :func:`closer` and :func:`clip_norm` compare and
  bound their iterates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from robots.base import FloatArray

RANK_EPS = 1e-6
"""Singular values below this count as zero when building null-space projectors."""

# Damping grows from 0 to these values as the smallest singular value of the (weighted)
# Jacobian falls below them, so away from singularities the solve is exact. Velocity
# steps damp harder (a smooth, slower path through a singularity); IK damps lightly so it
# can still reach targets at the edge of the workspace, and limits its steps instead.
VELOCITY_DAMPING = 0.03
IK_DAMPING = 0.005
MAX_IK_JOINT_STEP_RAD = 0.3
# IK linearizes the arm, so each iteration chases at most this much of the error.
MAX_IK_POSITION_STEP_M = 0.1
MAX_IK_ROTATION_STEP_RAD = 0.5
# An IK descent stops when no joint moves by more than STALL_RAD in one iteration, or
# when STALE_ITERS iterations in a row improve the error by less than 1 % of tolerance.
STALL_RAD = 1e-8
STALE_ITERS = 10
_ZERO3 = np.zeros(3)

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]
PoseAndJacobian = Callable[[FloatArray], tuple[FloatArray, FloatArray, FloatArray]]
"""``q`` [rad] -> end-effector position [m] (3,), xyzw quaternion (4,), Jacobian (6, n)."""
IKResult = tuple[FloatArray, float, float]
"""``(q [rad], position error [m], rotation error [rad])``."""


def quat_mul(a: Sequence[float], b: Sequence[float]) -> Quat:
    """Hamilton product of two xyzw quaternions (plain floats: faster than numpy here)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def quat_rotate(quat: Sequence[float], vec: Sequence[float]) -> Vec3:
    """``vec`` rotated by the unit xyzw quaternion ``quat``."""
    x, y, z, _ = quat_mul(quat_mul(quat, (*vec, 0.0)), conjugate(quat))
    return (x, y, z)


def conjugate(quat: Sequence[float]) -> Quat:
    return (-quat[0], -quat[1], -quat[2], quat[3])


def compose(
    pos_a: Sequence[float], quat_a: Sequence[float], pos_b: Vec3, quat_b: Quat
) -> tuple[Vec3, Quat]:
    """The pose ``a * b``, in float64 (``pybullet.multiplyTransforms`` rounds to float32)."""
    offset = quat_rotate(quat_a, pos_b)
    position = (pos_a[0] + offset[0], pos_a[1] + offset[1], pos_a[2] + offset[2])
    return position, quat_mul(quat_a, quat_b)


def rotation_error(target: Sequence[float], current: Sequence[float]) -> FloatArray:
    """Rotation vector [rad] that turns ``current`` into ``target``, in the reference frame."""
    x, y, z, w = quat_mul(target, conjugate(current))
    if w < 0.0:  # q and -q are the same rotation; take the short way round
        x, y, z, w = -x, -y, -z, -w
    sin_half = math.sqrt(x * x + y * y + z * z)
    scale = 2.0 if sin_half < 1e-12 else 2.0 * math.atan2(sin_half, w) / sin_half
    return np.array((scale * x, scale * y, scale * z))


def cross_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise cross product of (k, 3) arrays (``np.cross`` is slow on small arrays)."""
    return a[:, _NEXT] * b[:, _PREV] - a[:, _PREV] * b[:, _NEXT]


_NEXT = np.array([1, 2, 0])
_PREV = np.array([2, 0, 1])


def damped_solve(jac: FloatArray, err: FloatArray, damping: float) -> tuple[FloatArray, FloatArray]:
    """Least-squares ``dq`` with ``jac @ dq ≈ err``, damped only near singularities.

    Returns:
        ``dq`` and an orthonormal basis (rows) of the joint motions the task uses.
    """
    u, s, vt = np.linalg.svd(jac, full_matrices=False)
    # Singular values at rounding level are directions the task cannot use at all (as
    # for a secondary task projected into a null space): drop them, damp by the rest.
    rank = int(np.count_nonzero(s > RANK_EPS))
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    if rank == 0:
        return np.zeros(jac.shape[1]), vt
    damping_sq = max(damping * damping - s[-1] * s[-1], 0.0)
    gains = s / (s * s + damping_sq)
    return vt.T @ (gains * (u.T @ err)), vt


def prioritized_solve(tasks: Sequence[tuple[FloatArray, FloatArray]], damping: float) -> FloatArray:
    """Solve tasks in strict priority: each one only uses the null space of those before.

    Args:
        tasks: ``(jacobian (m, n), error (m,))`` pairs, most important first.
        damping: Largest damping factor, in the tasks' units.
    """
    jac, err = tasks[0]
    dq, used = damped_solve(jac, err, damping)
    if len(tasks) == 1:
        return dq
    projector = np.eye(dq.size) - used.T @ used
    for jac, err in tasks[1:]:
        projected = jac @ projector
        step, used = damped_solve(projected, err - jac @ dq, damping)
        dq = dq + step
        projector = projector - used.T @ used
    return dq


def limited_step(
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
        dq[free] = prioritized_solve(reduced, damping)
        target = q + dq
        over = free & ((target > upper) | (target < lower))
        if not over.any():
            break
        fixed_dq[over] = np.clip(target[over], lower[over], upper[over]) - q[over]
        free &= ~over
        if not free.any():
            return fixed_dq
    return dq


def closer(
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


def clip_norm(vec: FloatArray, limit: float) -> FloatArray:
    """``vec`` scaled down to length ``limit`` if it is longer."""
    norm = float(np.linalg.norm(vec))
    return vec if norm <= limit else vec * (limit / norm)


def velocity_step(
    jac: FloatArray,
    q: FloatArray,
    linear: FloatArray,
    angular: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    angular_weight: float | None,
) -> FloatArray:
    """The joint target after one tick of an end-effector velocity command.

    Args:
        jac: The (6, n) Jacobian at ``q`` (its angular rows are scaled in place when
            ``angular_weight`` is a number).
        q: Arm joint positions within the limits, [rad].
        linear: Linear displacement this tick (velocity times dt), [m].
        angular: Angular displacement this tick, [rad].
        lower: Lower joint limits, [rad].
        upper: Upper joint limits, [rad].
        angular_weight: None for linear-first, or the weight of angular against linear
            motion, [m/rad].
    """
    if angular_weight is None:
        tasks = [(jac[:3], linear), (jac[3:], angular)]
    else:
        jac[3:] *= angular_weight
        tasks = [(jac, np.concatenate([linear, angular * angular_weight]))]
    dq = limited_step(q, lower, upper, tasks, VELOCITY_DAMPING)
    return np.clip(q + dq, lower, upper)


def restart(
    pose_and_jacobian: PoseAndJacobian,
    best: IKResult,
    target_p: FloatArray,
    target_r: Quat | None,
    lower: FloatArray,
    upper: FloatArray,
    *,
    max_iters: int,
    tol: tuple[float, float],
    restarts: int,
) -> IKResult:
    """Inverse kinematics again from fixed starts, after the descent from the seed missed.

    Damped least squares finds the solution its start leads to, and a joint limit can
    block the way. The starts are drawn from a fixed seed, so the result is repeatable,
    and one's answer is kept only if it beats ``best`` by more than ``tol``, so the
    result stays near the seed when it can.

    Args:
        pose_and_jacobian: The arm's model.
        best: The descent from the seed, and its errors.
        target_p: Target position (3,), [m].
        target_r: Target orientation, xyzw; None for position only.
        lower: Lower joint limits, [rad].
        upper: Upper joint limits, [rad].
        max_iters: Iteration budget of each descent.
        tol: Done at these position [m] and orientation [rad] errors.
        restarts: How many starts to try.
    """
    for start in np.random.default_rng(0).uniform(lower, upper, (restarts, best[0].size)):
        found = descend(pose_and_jacobian, start, target_p, target_r, lower, upper, max_iters, tol)
        if closer(found, best, tol, margin=tol):
            best = found
        if best[1] <= tol[0] and best[2] <= tol[1]:
            break
    return best


def descend(
    pose_and_jacobian: PoseAndJacobian,
    q: FloatArray,
    target_p: FloatArray,
    target_r: Quat | None,
    lower: FloatArray,
    upper: FloatArray,
    max_iters: int,
    tol: tuple[float, float],
) -> IKResult:
    """Damped-least-squares descent from ``q``; the best iterate and its errors.

    Position is the primary task; orientation only uses the joint motion that leaves
    the position unchanged. Every iterate stays within the limits.
    """
    best = (q, math.inf, math.inf)
    progress = (0.01 * tol[0], 0.01 * tol[1])
    stale = 0
    for _ in range(max_iters):
        p, quat, jac = pose_and_jacobian(q)
        e_p = target_p - p
        e_r = _ZERO3 if target_r is None else rotation_error(target_r, quat.tolist())
        found = (q, float(np.linalg.norm(e_p)), float(np.linalg.norm(e_r)))
        stale = 0 if closer(found, best, tol, progress) else stale + 1
        if closer(found, best, tol):
            best = found
        if (found[1] <= tol[0] and found[2] <= tol[1]) or stale >= STALE_ITERS:
            break
        tasks = [(jac[:3], clip_norm(e_p, MAX_IK_POSITION_STEP_M))]
        if target_r is not None:
            tasks.append((jac[3:], clip_norm(e_r, MAX_IK_ROTATION_STEP_RAD)))
        dq = limited_step(q, lower, upper, tasks, IK_DAMPING)
        largest = float(np.max(np.abs(dq)))
        if largest < STALL_RAD:
            break
        if largest > MAX_IK_JOINT_STEP_RAD:
            dq *= MAX_IK_JOINT_STEP_RAD / largest
        q = np.clip(q + dq, lower, upper)
    return best
