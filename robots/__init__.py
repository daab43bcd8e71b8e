"""Robot drivers behind one interface: ``robots.make_robot(name, **options)``.

Names: ``"sim"`` (the default 5-joint sim arm), ``"sim:panda"`` (Franka Panda from
``pybullet_data``), ``"so101"`` (Feetech serial arm, needs ``serial_port=``), ``"fake"``.
This package never imports ``teleop``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robots.base import (
    Camera,
    CameraSpec,
    CommandError,
    CommandShapeError,
    Frame,
    GripperSpec,
    JointSpec,
    NonFiniteCommandError,
    NotConnectedError,
    Robot,
    RobotConfigError,
    RobotError,
    RobotIOError,
    RobotSpec,
    RobotState,
)

RobotFactory = Callable[..., Robot]


def _make_fake(**options: Any) -> Robot:
    from robots.fake import FakeRobot

    return FakeRobot(**options)


def _make_sim(**options: Any) -> Robot:
    from robots.sim import SimRobot

    return SimRobot(arm="so101", **options)


def _make_sim_panda(**options: Any) -> Robot:
    from robots.sim import SimRobot

    return SimRobot(arm="panda", **options)


def _make_so101(**options: Any) -> Robot:
    from robots.serial import So101Robot

    return So101Robot(**options)


# Backends are looked up here, never chosen by an if/elif chain; factories import
# lazily so that ``import robots`` does not load pybullet or pyserial.
_REGISTRY: dict[str, RobotFactory] = {
    "fake": _make_fake,
    "sim": _make_sim,
    "sim:panda": _make_sim_panda,
    "so101": _make_so101,
}


def register_robot(name: str, factory: RobotFactory) -> None:
    """Add a backend under ``name`` (replacing any earlier one of that name)."""
    _REGISTRY[name] = factory


def robot_names() -> list[str]:
    """The registered backend names, sorted."""
    return sorted(_REGISTRY)


def make_robot(name: str = "sim", **options: Any) -> Robot:
    """Build a robot by registry name. It is not connected yet.

    Raises:
        RobotConfigError: ``name`` is not registered.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise RobotConfigError(
            f"unknown robot '{name}'; known robots: {', '.join(robot_names())}"
        ) from None
    return factory(**options)


__all__ = [
    "Camera",
    "CameraSpec",
    "CommandError",
    "CommandShapeError",
    "Frame",
    "GripperSpec",
    "JointSpec",
    "NonFiniteCommandError",
    "NotConnectedError",
    "Robot",
    "RobotConfigError",
    "RobotError",
    "RobotIOError",
    "RobotSpec",
    "RobotState",
    "make_robot",
    "register_robot",
    "robot_names",
]
