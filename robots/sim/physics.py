"""The physics side of the sim: one PyBullet client stepping at 240 Hz.

``SimWorld`` is not thread-safe on its own; ``SimRobot`` serialises access to it.
"""

from __future__ import annotations

import numpy as np

from robots.base import FloatArray, RobotConfigError, RobotSpec, RobotState
from robots.bullet import pybullet as pb
from robots.sim.arms import ArmModel
from robots.sim.scene import Scene, build_scene

PHYSICS_HZ = 240
STEP_NS = 1_000_000_000 // PHYSICS_HZ
"""One physics step in [ns] (4,166,666 ns; sim time counts whole steps)."""
SOLVER_ITERATIONS = 150
"""At PyBullet's default of 50, light cubes twist out of the fingers; 100+ holds them."""


class SimWorld:
    """A built scene in its own PyBullet client, with position-controlled joints.

    Args:
        model: The arm.
        spec: The arm's public spec (gives the effort limits used by the motors).
        gui: Open a window (``pybullet.GUI``) instead of running headless.
    """

    def __init__(self, model: ArmModel, spec: RobotSpec, gui: bool = False) -> None:
        self.model = model
        self.spec = spec
        self.client = pb.connect(pb.GUI if gui else pb.DIRECT)
        if self.client < 0:
            raise RobotConfigError(
                "pybullet could not start a physics client (GUI needs a display)"
            )
        pb.setGravity(0, 0, -9.81, physicsClientId=self.client)
        pb.setTimeStep(1.0 / PHYSICS_HZ, physicsClientId=self.client)
        pb.setPhysicsEngineParameter(
            numSolverIterations=SOLVER_ITERATIONS, physicsClientId=self.client
        )
        self.scene: Scene = build_scene(self.client, model)
        for joint in self.scene.joint_ids:
            pb.enableJointForceTorqueSensor(
                self.scene.robot, joint, True, physicsClientId=self.client
            )
        # The gripper is everything after the last arm joint; links are indexed like joints.
        self._gripper_links = self.scene.subtree(self.scene.arm_ids[-1])
        self._finger_links = [self.scene.subtree(j) for j in self.scene.finger_ids]
        self.steps = 0

    @property
    def sim_time_ns(self) -> int:
        """Simulated time since the last reset, in [ns]."""
        return self.steps * STEP_NS

    def close(self) -> None:
        """Disconnect the client."""
        if pb.isConnected(self.client):
            pb.disconnect(self.client)

    def reset(self, seed: int) -> None:
        """Home the arm, place the objects, and hold there."""
        self.scene.reset(seed)
        self.steps = 0
        self.set_target(self.joint_positions())

    def set_target(self, q: FloatArray) -> None:
        """Drive the joints toward ``q``: arm in [rad], gripper opening in [0, 1]."""
        # One call per joint: only setJointMotorControl2 honours maxVelocity, and the
        # array form lets a step command swing a joint at tens of rad/s.
        spec, robot, client = self.spec, self.scene.robot, self.client
        for i, joint in enumerate(self.scene.arm_ids):
            pb.setJointMotorControl2(
                robot,
                joint,
                pb.POSITION_CONTROL,
                targetPosition=float(q[i]),
                force=float(spec.max_effort[i]),
                maxVelocity=float(spec.max_velocity[i]),
                physicsClientId=client,
            )
        travel = float(q[-1]) * self.model.finger_travel_m
        finger_force = self.model.gripper_force_n / len(self.scene.finger_ids)
        finger_speed = float(spec.max_velocity[-1]) * self.model.finger_travel_m
        for joint in self.scene.finger_ids:
            pb.setJointMotorControl2(
                robot,
                joint,
                pb.POSITION_CONTROL,
                targetPosition=travel,
                force=finger_force,
                maxVelocity=finger_speed,
                physicsClientId=client,
            )

    def step(self) -> None:
        """Advance the physics by one 1/240 s step."""
        pb.stepSimulation(physicsClientId=self.client)
        self.steps += 1

    def joint_positions(self) -> FloatArray:
        """Arm joints in [rad] then the gripper opening in [0, 1]."""
        return self.read_state(0).q

    def read_state(self, t_ns: int) -> RobotState:
        """The arm's state now, stamped ``t_ns``."""
        states = pb.getJointStates(
            self.scene.robot, self.scene.joint_ids, physicsClientId=self.client
        )
        n_arm = len(self.scene.arm_ids)
        pos = np.array([s[0] for s in states])
        vel = np.array([s[1] for s in states])
        eff = np.array([s[3] for s in states])
        travel = self.model.finger_travel_m
        # The solver lets fingers overshoot their stops by ~1e-7 m; the opening stays in [0, 1].
        q = np.append(pos[:n_arm], np.clip(np.mean(pos[n_arm:]) / travel, 0.0, 1.0))
        dq = np.append(vel[:n_arm], np.mean(vel[n_arm:]) / travel)
        ee_force, per_finger = self._contact_forces()
        grasp = float(min(per_finger)) if len(per_finger) > 1 else 0.0
        tau = np.append(eff[:n_arm], np.mean(np.abs(eff[n_arm:])))
        return RobotState(t_ns=t_ns, q=q, dq=dq, tau=tau, ee_force=ee_force, grasp_force=grasp)

    def _contact_forces(self) -> tuple[FloatArray, list[float]]:
        """Net world force on the gripper in the base frame [N], and each finger's squeeze [N]."""
        total = np.zeros(3)
        per_finger = [0.0] * len(self._finger_links)
        contacts = pb.getContactPoints(bodyA=self.scene.robot, physicsClientId=self.client)
        for c in contacts:
            if c[2] == self.scene.robot or c[3] not in self._gripper_links:
                continue
            normal = np.asarray(c[7]) * c[9]
            friction = np.asarray(c[11]) * c[10] + np.asarray(c[13]) * c[12]
            total += normal + friction
            for k, links in enumerate(self._finger_links):
                if c[3] in links:
                    per_finger[k] += c[9]
        _, base_orn = pb.getBasePositionAndOrientation(
            self.scene.robot, physicsClientId=self.client
        )
        rot = np.array(pb.getMatrixFromQuaternion(base_orn)).reshape(3, 3)
        return rot.T @ total, per_finger
