"""Forward and inverse kinematics of an arm, from its URDF (see :mod:`.kinematics`)."""

from robots.kinematics.kinematics import IKError, Kinematics

__all__ = ["IKError", "Kinematics"]
