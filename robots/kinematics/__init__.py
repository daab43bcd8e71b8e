"""Forward and inverse kinematics of an arm, from its URDF.

- :mod:`.kinematics`: :class:`Kinematics`, what the rest of the code uses: forward,
  inverse and velocity kinematics, every input checked (:mod:`.checks`);
- :mod:`.model`: the PyBullet-backed model: the URDF in a private client, the
  end-effector pose and the Jacobian at a joint vector;
- :mod:`.solver`: the arithmetic, with no PyBullet: quaternions, damped least-squares
  steps for tasks in priority order within the joint limits, the IK descent.

Exception tree (the root is ``robots.base.RobotError``)::

    RobotError
    ├── IKError             a bad input: wrong length, NaN or ±inf, zero quaternion;
    │                       also any call after close()
    └── RobotConfigError    the URDF, a joint name, the end-effector link or a limit is wrong
"""

from robots.kinematics.checks import IKError
from robots.kinematics.kinematics import Kinematics

__all__ = ["IKError", "Kinematics"]
