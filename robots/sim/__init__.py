"""The PyBullet sim backend: a tabletop scene, 240 Hz physics in its own process (or in
the caller's, stepped by hand, with ``realtime=False``), and cameras rendered in a
separate process."""

from robots.sim.robot import SimRobot

__all__ = ["SimRobot"]
