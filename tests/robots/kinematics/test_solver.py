"""The kinematics' arithmetic alone, on hand-made Jacobians: no PyBullet, no URDF."""

from __future__ import annotations

import math

import numpy as np

from robots.kinematics import solver


def test_quaternions_compose_rotate_and_measure_rotations() -> None:
    half = math.sqrt(0.5)
    yaw90 = (0.0, 0.0, half, half)  # 90 degrees about z, xyzw
    assert np.allclose(solver.quat_rotate(yaw90, (1.0, 0.0, 0.0)), (0.0, 1.0, 0.0))
    assert np.allclose(solver.quat_mul(yaw90, solver.conjugate(yaw90)), (0.0, 0.0, 0.0, 1.0))
    position, quat = solver.compose((1.0, 0.0, 0.0), yaw90, (1.0, 0.0, 0.0), yaw90)
    assert np.allclose(position, (1.0, 1.0, 0.0)) and np.allclose(quat, (0.0, 0.0, 1.0, 0.0))
    assert np.allclose(solver.rotation_error(yaw90, (0.0, 0.0, 0.0, 1.0)), (0, 0, math.pi / 2))
    # q and -q are one rotation: the error takes the short way round.
    assert np.allclose(
        solver.rotation_error((0, 0, -half, -half), (0, 0, 0, 1)), (0, 0, math.pi / 2)
    )


def test_damped_solve_is_exact_away_from_singularities_and_drops_dead_directions() -> None:
    jac = np.array([[2.0, 0.0], [0.0, 0.5]])
    dq, used = solver.damped_solve(jac, np.array([1.0, 1.0]), damping=0.03)
    assert np.allclose(dq, (0.5, 2.0)) and used.shape == (2, 2)
    singular = np.array([[1.0, 0.0], [0.0, 0.0]])
    dq, used = solver.damped_solve(singular, np.array([1.0, 1.0]), damping=0.0)
    assert np.allclose(dq, (1.0, 0.0)) and used.shape == (1, 2)


def test_a_second_task_only_uses_the_first_tasks_null_space() -> None:
    first = (np.array([[1.0, 1.0]]), np.array([1.0]))
    second = (np.array([[1.0, 0.0]]), np.array([5.0]))
    dq = solver.prioritized_solve([first, second], damping=0.0)
    assert math.isclose(dq.sum(), 1.0)  # the first task is met exactly
    assert dq[0] > 0.5  # and the second pulls joint 0 as far as that allows


def test_limited_step_parks_a_joint_on_its_limit_and_the_others_make_up() -> None:
    q = np.array([0.0, 0.0])
    lower, upper = np.array([-1.0, -1.0]), np.array([0.2, 1.0])
    task = (np.array([[1.0, 1.0]]), np.array([1.0]))  # move the sum by 1
    dq = solver.limited_step(q, lower, upper, [task], damping=0.0)
    assert np.allclose(dq, (0.2, 0.8))


def test_velocity_step_on_an_identity_arm_moves_each_joint_by_its_axis() -> None:
    jac = np.vstack([np.eye(3), np.zeros((3, 3))])
    q = np.zeros(3)
    lower, upper = -np.ones(3), np.ones(3)
    out = solver.velocity_step(
        jac, q, np.array([0.01, -0.02, 0.0]), np.zeros(3), lower, upper, None
    )
    assert np.allclose(out, (0.01, -0.02, 0.0), atol=1e-6)
    out = solver.velocity_step(jac, q, np.array([5.0, 0.0, 0.0]), np.zeros(3), lower, upper, None)
    assert np.allclose(out, (1.0, 0.0, 0.0))  # clipped to the limit


def test_ik_descent_reaches_a_target_on_a_linear_arm() -> None:
    def model(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        jac = np.vstack([np.eye(3), np.zeros((3, 3))])
        return q.copy(), np.array([0.0, 0.0, 0.0, 1.0]), jac

    lower, upper = -np.ones(3), np.ones(3)
    target = np.array([0.3, -0.4, 0.25])
    q, err_m, err_rad = solver.descend(
        model, np.zeros(3), target, None, lower, upper, 50, (1e-6, 1e-3)
    )
    assert np.allclose(q, target, atol=1e-6) and err_m <= 1e-6 and err_rad == 0.0
    unreachable = np.array([2.0, 0.0, 0.0])
    best = solver.descend(model, np.zeros(3), unreachable, None, lower, upper, 50, (1e-6, 1e-3))
    retried = solver.restart(model, best, unreachable, None, lower, upper, max_iters=50,
                             tol=(1e-6, 1e-3), restarts=3)  # fmt: skip
    assert np.allclose(retried[0], (1.0, 0.0, 0.0), atol=1e-6)  # the closest, on the limit
    assert math.isclose(retried[1], 1.0, abs_tol=1e-6)


def test_closer_prefers_position_then_orientation_and_clip_norm_bounds_a_step() -> None:
    q = np.zeros(2)
    tol = (1e-3, 1e-2)
    assert solver.closer((q, 0.01, 1.0), (q, 0.02, 0.0), tol)
    assert solver.closer((q, 0.0005, 0.1), (q, 0.0009, 0.2), tol)  # equal positions: orientation
    assert not solver.closer((q, 0.0005, 0.1), (q, 0.0009, 0.105), tol, margin=tol)
    assert np.allclose(solver.clip_norm(np.array([3.0, 4.0]), 1.0), (0.6, 0.8))
    assert np.allclose(solver.clip_norm(np.array([0.3, 0.4]), 1.0), (0.3, 0.4))
