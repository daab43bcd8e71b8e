"""The PyBullet sim: tracking, grasping, contact force, cameras and determinism."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from timing import MS

import robots
from robots.kinematics import Kinematics
from robots.sim import SimRobot


def run_until(arm: SimRobot, target: np.ndarray, seconds: float) -> None:
    """Command ``target`` and step a non-realtime arm for ``seconds`` of sim time."""
    arm.command(target)
    arm.step(int(seconds * 240))


@pytest.fixture
def offline() -> SimRobot:
    """A non-realtime sim arm without cameras: fast and deterministic."""
    arm = SimRobot(realtime=False, cameras=())
    arm.connect()
    yield arm
    arm.disconnect()


def test_tracks_joint_targets_within_0_02_rad(offline: SimRobot) -> None:
    home = offline.read().q
    for delta in ([0.4, 0.3, -0.3, 0.2, 0.5], [-0.5, -0.2, 0.4, -0.4, -0.6]):
        target = home.copy()
        target[:5] += delta
        run_until(offline, target, 2.0)
        error = np.abs(offline.read().q[:5] - target[:5])
        assert error.max() < 0.02, f"tracking error {error} rad"


def test_contact_force_zero_in_free_air(offline: SimRobot) -> None:
    home = offline.read().q
    home[-1] = 0.0  # close the empty gripper in the air
    run_until(offline, home, 1.0)
    state = offline.read()
    assert np.all(state.ee_force == 0.0)
    assert state.grasp_force == 0.0


def test_same_seed_and_commands_give_same_states() -> None:
    def trajectory(seed: int) -> list[np.ndarray]:
        with SimRobot(realtime=False, cameras=(), seed=seed) as arm:
            home = arm.read().q
            states = []
            for k in range(40):
                target = home + 0.4 * np.sin(0.2 * k)
                target[-1] = 0.5
                arm.command(target)
                arm.step(6)
                s = arm.read()
                states.append(np.concatenate([[s.t_ns], s.q, s.dq, s.tau, s.ee_force]))
            return states

    first, second = trajectory(3), trajectory(3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_reset_places_objects_reproducibly(offline: SimRobot) -> None:
    world = offline._world
    assert world is not None
    offline.reset(seed=7)
    placed = world.scene.snapshot()
    offline.reset(seed=8)
    other = world.scene.snapshot()
    offline.reset(seed=7)
    np.testing.assert_array_equal(world.scene.snapshot(), placed)
    assert not np.array_equal(other, placed)


def test_camera_frames_change_when_arm_moves_and_times_increase() -> None:
    with robots.make_robot("sim") as arm:
        cams = arm.cameras
        before = {n: c.wait_newer(-1, timeout_s=30.0) for n, c in cams.items()}
        target = arm.read().q
        target[0] += 0.8
        target[1] += 0.4
        arm.command(target)
        time.sleep(1500 * MS)
        for name, cam in cams.items():
            after = cam.wait_newer(before[name].seq, timeout_s=5.0)
            assert after.t_ns > before[name].t_ns
            changed = np.mean(np.abs(after.image.astype(int) - before[name].image.astype(int)))
            assert changed > 1.0, f"camera '{name}' image barely changed ({changed:.2f})"
        frames = [cams["front"].wait_newer(-1)]
        for _ in range(5):
            frames.append(cams["front"].wait_newer(frames[-1].seq))
        stamps = [f.t_ns for f in frames]
        assert all(a < b for a, b in itertools.pairwise(stamps)), stamps
        assert stamps[-1] <= time.monotonic_ns()


def test_renderer_choice_is_reported() -> None:
    with SimRobot(cameras=("front",)) as arm:
        arm.cameras["front"].wait_newer(-1, timeout_s=30.0)
        assert arm.renderer in ("egl", "tiny")


def _down(yaw: float) -> np.ndarray:
    """Quaternion (xyzw) of a gripper pointing straight down, turned by ``yaw`` [rad]."""
    half = yaw / 2
    # Rz(yaw) · Ry(pi): the tool's approach axis (+z) points at the table.
    return np.array([np.sin(half), np.cos(half), 0.0, 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scripted_grasp_lifts_the_cube_with_contact_force(seed: int) -> None:
    with (
        SimRobot(realtime=False, cameras=(), seed=seed) as arm,
        Kinematics.from_spec(arm.spec) as kin,
    ):
        cube, orn = arm.object_poses()["red_cube"]
        yaw = float(np.arctan2(2 * (orn[3] * orn[2]), 1 - 2 * orn[2] ** 2)) % (np.pi / 2)
        q = arm.read().q
        for offset_z, opening in ((0.08, 1.0), (0.0, 1.0), (0.0, 0.0)):
            arm_q = kin.ik(cube + [0, 0, offset_z], _down(yaw), q_seed=q[:-1])
            q = np.append(arm_q, opening)
            run_until(arm, q, 1.0)
        squeezing = arm.read()
        assert squeezing.grasp_force > 1.0, f"grasp force {squeezing.grasp_force} N"
        assert np.linalg.norm(squeezing.ee_force) > 0.1

        q = np.append(kin.ik(cube + [0, 0, 0.10], _down(yaw), q_seed=q[:-1]), 0.0)
        run_until(arm, q, 2.0)
        lifted = arm.object_poses()["red_cube"][0]
        holding = arm.read()
        assert lifted[2] - cube[2] > 0.05, f"cube rose only {lifted[2] - cube[2]:.3f} m"
        assert holding.grasp_force > 1.0
        # Held in the air, the gripper carries the cube's weight (35 g): about 0.34 N.
        assert 0.1 < np.linalg.norm(holding.ee_force) < 5.0
