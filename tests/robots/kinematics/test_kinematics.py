"""Tests for robots.kinematics, run against the Franka Panda (7 joints) and the SO-101 (5)."""

from __future__ import annotations

import dataclasses
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pybullet_data
import pytest

from robots.base import CameraSpec, GripperSpec, JointSpec, RobotConfigError, RobotError, RobotSpec
from robots.kinematics import IKError, Kinematics

REPO = Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class Arm:
    urdf: Path
    ee_link: str
    joints: tuple[str, ...]
    home: tuple[float, ...]

    def limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Joint limits as written in the URDF, [rad]."""
        limits = {
            joint.attrib["name"]: limit.attrib
            for joint in ET.parse(self.urdf).getroot().iter("joint")
            if (limit := joint.find("limit")) is not None
        }
        lower = np.array([float(limits[name]["lower"]) for name in self.joints])
        upper = np.array([float(limits[name]["upper"]) for name in self.joints])
        return lower, upper


ARMS = {
    "panda": Arm(
        Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf",
        "panda_grasptarget",
        tuple(f"panda_joint{i}" for i in range(1, 8)),
        (0.0, -0.6, 0.0, -2.4, 0.0, 1.9, 0.785),
    ),
    "so101": Arm(
        REPO / "sim_assets" / "so101" / "so101.urdf",
        "gripper_tcp",
        ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
        (0.0, -0.5, 0.9, 0.9, 0.0),
    ),
}


def make(name: str, **kwargs: object) -> Kinematics:
    arm = ARMS[name]
    lower, upper = arm.limits()
    return Kinematics(arm.urdf, arm.ee_link, arm.joints, lower, upper, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=sorted(ARMS))
def kin(request: pytest.FixtureRequest) -> Iterator[Kinematics]:
    with make(request.param) as k:
        yield k


@pytest.fixture(scope="module")
def panda() -> Iterator[Kinematics]:
    with make("panda") as k:
        yield k


def home(kin: Kinematics) -> np.ndarray:
    """The home configuration of whichever arm ``kin`` is, [rad]."""
    (arm,) = [arm for arm in ARMS.values() if arm.joints == kin.joint_names]
    return np.array(arm.home)


def random_q(kin: Kinematics, rng: np.random.Generator) -> np.ndarray:
    """A random configuration, 5 % of the range away from every limit."""
    margin = 0.05 * (kin.upper - kin.lower)
    return rng.uniform(kin.lower + margin, kin.upper - margin)


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two xyzw orientations, [rad]."""
    return 2.0 * float(np.arccos(min(1.0, abs(float(np.dot(a, b))))))


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of xyzw quaternions."""
    av, aw, bv, bw = a[:3], a[3], b[:3], b[3]
    return np.concatenate([aw * bv + bw * av + np.cross(av, bv), [aw * bw - av @ bv]])


def within_limits(kin: Kinematics, q: np.ndarray) -> bool:
    return bool(np.all(q >= kin.lower) and np.all(q <= kin.upper))


# --- forward kinematics and the Jacobian --------------------------------------------------


def test_fk_of_panda_at_zero_matches_the_urdf_chain(panda: Kinematics) -> None:
    # At q = 0 (joint origins from the URDF): up 0.333 + 0.316 + 0.384, out 0.088, then
    # down 0.107 to the flange and 0.105 more to the grasp target.
    position, quat = panda.fk(np.zeros(7))
    np.testing.assert_allclose(position, [0.088, 0.0, 1.033 - 0.107 - 0.105], atol=1e-9)
    # Pointing straight down: the tool z axis is -z of the base.
    x, y, z, w = quat
    tool_z = np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])
    np.testing.assert_allclose(tool_z, [0.0, 0.0, -1.0], atol=1e-9)


def test_fk_reports_the_link_frame_not_its_centre_of_mass() -> None:
    # panda_hand's centre of mass is 0.04 m along its z axis; its frame is at the flange.
    arm = ARMS["panda"]
    lower, upper = arm.limits()
    with Kinematics(arm.urdf, "panda_hand", arm.joints, lower, upper) as hand:
        position, _ = hand.fk(np.zeros(7))
    np.testing.assert_allclose(position, [0.088, 0.0, 1.033 - 0.107], atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_jacobian_matches_finite_differences_of_fk(kin: Kinematics, seed: int) -> None:
    q = random_q(kin, np.random.default_rng(seed))
    jac = kin.jacobian(q)
    assert jac.shape == (6, len(q))
    h = 1e-6
    for i in range(len(q)):
        step = np.zeros(len(q))
        step[i] = h
        p_plus, r_plus = kin.fk(q + step)
        p_minus, r_minus = kin.fk(q - step)
        np.testing.assert_allclose(jac[:3, i], (p_plus - p_minus) / (2 * h), atol=1e-5)
        # Angular velocity from the quaternion derivative: w = 2 * dq/dt * conj(q).
        r_dot = (r_plus - r_minus) / (2 * h)
        _, r0 = kin.fk(q)
        omega = 2 * quat_mul(r_dot, r0 * np.array([-1.0, -1.0, -1.0, 1.0]))[:3]
        np.testing.assert_allclose(jac[3:, i], omega, atol=1e-5)


def test_base_pose_moves_and_turns_every_result() -> None:
    turn = np.array([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)])  # +90° about z
    with (
        make("so101") as plain,
        make("so101", base_position=(0.5, 0.0, 0.2), base_orientation=turn) as moved,
    ):
        q = np.array(ARMS["so101"].home)
        p0, _ = plain.fk(q)
        p1, _ = moved.fk(q)
        np.testing.assert_allclose(p1, [0.5 - p0[1], p0[0], 0.2 + p0[2]], atol=1e-9)
        j0, j1 = plain.jacobian(q), moved.jacobian(q)
        np.testing.assert_allclose(j1[0], -j0[1], atol=1e-6)
        np.testing.assert_allclose(j1[1], j0[0], atol=1e-6)


# --- inverse kinematics -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_panda_ik_round_trip_with_orientation_lands_within_1mm(
    panda: Kinematics, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    q_true = random_q(panda, rng)
    position, quat = panda.fk(q_true)
    q_seed = q_true + rng.normal(0.0, 0.3, 7)
    q, pos_err, rot_err = panda.ik_with_error(position, quat, q_seed)
    reached, reached_quat = panda.fk(q)
    assert np.linalg.norm(reached - position) < 1e-3
    assert rotation_angle(reached_quat, quat) < 1e-2
    assert pos_err == pytest.approx(float(np.linalg.norm(reached - position)), abs=1e-9)
    assert rot_err == pytest.approx(rotation_angle(reached_quat, quat), abs=1e-6)
    assert within_limits(panda, q)


@pytest.mark.parametrize("seed", range(10))
def test_ik_round_trip_position_only_lands_within_1mm(kin: Kinematics, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    q_true = random_q(kin, rng)
    position, _ = kin.fk(q_true)
    q_seed = q_true + rng.normal(0.0, 0.3, len(q_true))
    q = kin.ik(position, q_seed=q_seed)
    assert np.linalg.norm(kin.fk(q)[0] - position) < 1e-3
    assert within_limits(kin, q)


def test_ik_without_seed_starts_mid_range_and_still_reaches(kin: Kinematics) -> None:
    position, _ = kin.fk(home(kin))
    q, pos_err, rot_err = kin.ik_with_error(position)
    assert pos_err < 1e-3
    assert rot_err == 0.0
    assert np.linalg.norm(kin.fk(q)[0] - position) < 1e-3


@pytest.mark.parametrize("seed", range(5))
def test_five_joint_arm_keeps_position_when_orientation_is_impossible(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    with make("so101") as kin:
        q_true = random_q(kin, rng)
        position, _ = kin.fk(q_true)
        impossible = rng.normal(size=4)
        impossible /= np.linalg.norm(impossible)
        q, pos_err, rot_err = kin.ik_with_error(position, impossible, q_true)
        reached, reached_quat = kin.fk(q)
    # Position wins; the orientation is a compromise, and the reported error is the true one.
    assert np.linalg.norm(reached - position) < 1e-3
    assert pos_err == pytest.approx(float(np.linalg.norm(reached - position)), abs=1e-9)
    assert rot_err == pytest.approx(rotation_angle(reached_quat, impossible), abs=1e-6)
    assert within_limits(kin, q)


@pytest.mark.parametrize("target", [(5.0, 5.0, 5.0), (0.0, 0.0, -3.0), (-2.0, 0.5, 0.3)])
def test_unreachable_target_gives_closest_in_limits_solution_and_its_error(
    kin: Kinematics, target: tuple[float, float, float]
) -> None:
    q, pos_err, _ = kin.ik_with_error(target, q_seed=home(kin))
    assert within_limits(kin, q)
    miss = float(np.linalg.norm(kin.fk(q)[0] - np.array(target)))
    assert pos_err == pytest.approx(miss, abs=1e-9)
    # No configuration among many random ones gets clearly closer than the answer.
    rng = np.random.default_rng(7)
    samples = rng.uniform(kin.lower, kin.upper, (300, len(q)))
    best_sample = min(float(np.linalg.norm(kin.fk(s)[0] - np.array(target))) for s in samples)
    assert miss <= best_sample + 1e-3


def test_ik_with_narrow_limits_never_leaves_them() -> None:
    arm = ARMS["panda"]
    lower, upper = arm.limits()
    mid, half = (lower + upper) / 2, (upper - lower) / 2
    rng = np.random.default_rng(3)
    with Kinematics(
        arm.urdf, arm.ee_link, arm.joints, mid - 0.2 * half, mid + 0.2 * half
    ) as narrow:
        with make("panda") as wide:
            for _ in range(10):
                position, quat = wide.fk(rng.uniform(lower, upper))  # mostly out of reach
                q, pos_err, _ = narrow.ik_with_error(position, quat, max_iters=30, restarts=1)
                assert within_limits(narrow, q)
                assert pos_err == pytest.approx(float(np.linalg.norm(narrow.fk(q)[0] - position)))


def test_ik_seed_outside_limits_is_clipped(kin: Kinematics) -> None:
    position, _ = kin.fk(home(kin))
    q = kin.ik(position, q_seed=kin.upper + 5.0)
    assert within_limits(kin, q)


# --- velocity steps -----------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_linear_velocity_moves_the_ee_at_the_commanded_speed(kin: Kinematics, axis: int) -> None:
    speed, dt, steps = 0.05, 0.01, 50
    direction = np.zeros(3)
    direction[axis] = 1.0
    q = home(kin)
    start, _ = kin.fk(q)
    for _ in range(steps):
        q = kin.velocity_step(q, speed * direction, np.zeros(3), dt)
        assert within_limits(kin, q)
    moved = kin.fk(q)[0] - start
    assert moved[axis] / (steps * dt) == pytest.approx(speed, rel=0.1)
    sideways = np.delete(moved, axis)
    assert np.linalg.norm(sideways) < 0.1 * speed * steps * dt


def test_panda_angular_velocity_turns_the_hand_in_place(panda: Kinematics) -> None:
    rate, dt, steps = 0.5, 0.01, 40
    q = np.array(ARMS["panda"].home)
    start, start_quat = panda.fk(q)
    for _ in range(steps):
        q = panda.velocity_step(q, np.zeros(3), [0.0, 0.0, rate], dt)
    position, quat = panda.fk(q)
    assert rotation_angle(quat, start_quat) == pytest.approx(rate * steps * dt, rel=0.1)
    assert np.linalg.norm(position - start) < 1e-3


def test_weighted_velocity_step_trades_speed_for_rotation_on_five_joints() -> None:
    # Moving sideways at home needs the pan joint, which also yaws the gripper: linear
    # priority keeps full speed, a heavy angular weight gives some of it up.
    with make("so101") as kin:
        q0 = home(kin)
        linear = np.array([0.0, 0.05, 0.0])
        first = kin.fk(kin.velocity_step(q0, linear, np.zeros(3), 0.01))[0]
        weighted = kin.fk(kin.velocity_step(q0, linear, np.zeros(3), 0.01, angular_weight=1.0))[0]
        start = kin.fk(q0)[0]
    assert (first - start)[1] == pytest.approx(0.05 * 0.01, rel=0.05)
    assert (weighted - start)[1] < 0.5 * (first - start)[1]


def test_zero_velocity_returns_q_unchanged(kin: Kinematics) -> None:
    q = home(kin) + 0.01
    out = kin.velocity_step(q, np.zeros(3), np.zeros(3), 0.01)
    assert np.array_equal(out, q)
    assert np.array_equal(kin.velocity_step(q, [0.1, 0, 0], [0, 0, 0.2], 0.0), q)


def test_zero_velocity_clips_q_that_is_out_of_limits(kin: Kinematics) -> None:
    q = kin.upper + 0.1
    assert np.array_equal(kin.velocity_step(q, np.zeros(3), np.zeros(3), 0.01), kin.upper)


def test_velocity_steps_from_the_limits_never_cross_them(kin: Kinematics) -> None:
    rng = np.random.default_rng(11)
    for start in (kin.upper, kin.lower):
        q = start.copy()
        for _ in range(30):
            q = kin.velocity_step(q, rng.normal(0, 0.3, 3), rng.normal(0, 1.0, 3), 0.02)
            assert within_limits(kin, q)


def test_joint_on_its_limit_stays_there_and_the_others_carry_the_motion(panda: Kinematics) -> None:
    q = np.array(ARMS["panda"].home)
    q[0] = panda.upper[0]  # base joint on its limit
    # The velocity that joint 1 alone would make by moving further past its limit.
    push = panda.jacobian(q)[:3, 0] * 0.1
    out = panda.velocity_step(q, push, np.zeros(3), 0.01)
    assert out[0] == panda.upper[0]
    moved = panda.fk(out)[0] - panda.fk(q)[0]
    np.testing.assert_allclose(moved, push * 0.01, atol=2e-4)


# --- bad inputs and lifecycle -------------------------------------------------------------


def test_wrong_length_q_names_the_expected_joints(panda: Kinematics) -> None:
    with pytest.raises(IKError, match=r"expected \(7,\).*panda_joint1"):
        panda.fk(np.zeros(6))
    with pytest.raises(IKError, match=r"q has shape \(8,\)"):
        panda.velocity_step(np.zeros(8), np.zeros(3), np.zeros(3), 0.01)
    with pytest.raises(IKError, match="q_seed"):
        panda.ik([0.3, 0.0, 0.5], q_seed=np.zeros(5))
    with pytest.raises(IKError, match=r"linear has shape \(2,\)"):
        panda.velocity_step(np.zeros(7), [0.1, 0.0], np.zeros(3), 0.01)


def test_non_finite_inputs_raise_ik_error_naming_the_entry(panda: Kinematics) -> None:
    q = np.zeros(7)
    q[2] = np.nan
    with pytest.raises(IKError, match="'panda_joint3' is nan"):
        panda.jacobian(q)
    with pytest.raises(IKError, match="position"):
        panda.ik([0.3, np.inf, 0.5])
    with pytest.raises(IKError, match="orientation"):
        panda.ik([0.3, 0.0, 0.5], [0.0, np.nan, 0.0, 1.0])
    with pytest.raises(IKError, match="zero length"):
        panda.ik([0.3, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0])
    with pytest.raises(IKError, match="angular"):
        panda.velocity_step(np.zeros(7), np.zeros(3), [0.0, -np.inf, 0.0], 0.01)
    with pytest.raises(IKError, match="dt"):
        panda.velocity_step(np.zeros(7), np.zeros(3), np.zeros(3), float("nan"))
    with pytest.raises(IKError, match="dt"):
        panda.velocity_step(np.zeros(7), np.zeros(3), np.zeros(3), -0.01)
    with pytest.raises(IKError, match="angular_weight"):
        panda.velocity_step(np.zeros(7), np.zeros(3), np.zeros(3), 0.01, angular_weight=-1.0)
    with pytest.raises(IKError, match="tol_m"):
        panda.ik([0.3, 0.0, 0.5], tol_m=float("nan"))


def test_ik_error_is_a_robot_error() -> None:
    assert issubclass(IKError, RobotError)


def test_unknown_link_or_joint_is_a_config_error_listing_the_choices() -> None:
    arm = ARMS["so101"]
    lower, upper = arm.limits()
    with pytest.raises(RobotConfigError, match=r"'hand'.*gripper_tcp"):
        Kinematics(arm.urdf, "hand", arm.joints, lower, upper)
    with pytest.raises(RobotConfigError, match=r"'elbow'.*elbow_flex"):
        Kinematics(arm.urdf, arm.ee_link, ("shoulder_pan", "elbow"), lower[:2], upper[:2])
    with pytest.raises(RobotConfigError, match="not found"):
        Kinematics(arm.urdf.with_name("missing.urdf"), arm.ee_link, arm.joints, lower, upper)


def test_from_spec_leaves_out_the_gripper_and_uses_urdf_names() -> None:
    arm = ARMS["so101"]
    lower, upper = arm.limits()
    joints = [
        JointSpec(f"j{i}", float(lo), float(hi), 4.0, 3.0)
        for i, (lo, hi) in enumerate(zip(lower, upper, strict=True))
    ]
    spec = RobotSpec(
        name="so101_test",
        joints=(*joints, JointSpec("gripper", 0.0, 1.0, 1.0, 10.0)),
        gripper=GripperSpec("parallel", 0.05, 30.0),
        cameras=(CameraSpec("front"),),
        urdf_path=arm.urdf,
        ee_link=arm.ee_link,
        urdf_joint_names=arm.joints,
    )
    with Kinematics.from_spec(spec) as from_spec, make("so101") as direct:
        assert from_spec.joint_names == arm.joints
        np.testing.assert_array_equal(from_spec.upper, upper)
        q = np.array(arm.home)
        np.testing.assert_array_equal(from_spec.fk(q)[0], direct.fk(q)[0])
    with pytest.raises(RobotConfigError, match="urdf_path"):
        Kinematics.from_spec(dataclasses.replace(spec, urdf_path=None))


def test_threads_sharing_one_instance_get_their_own_answers(panda: Kinematics) -> None:
    rng = np.random.default_rng(5)
    configs = [random_q(panda, rng) for _ in range(4)]
    expected = [panda.fk(q)[0] for q in configs]
    wrong: list[int] = []

    def worker(i: int) -> None:
        for _ in range(2000):
            if not np.array_equal(panda.fk(configs[i])[0], expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to expose races
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def test_closed_instance_refuses_calls() -> None:
    kin = make("so101")
    kin.close()
    kin.close()  # twice is fine
    with pytest.raises(IKError, match="closed"):
        kin.fk(np.zeros(5))
