"""The PyBullet sim backend: a tabletop scene, a 240 Hz physics thread, and cameras
rendered in a separate process."""

from robots.sim.robot import SimRobot

__all__ = ["SimRobot"]
