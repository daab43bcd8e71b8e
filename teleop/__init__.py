"""teleop: the station software that turns a robot arm and a remote operator into
training episodes. This package imports ``robots``; ``robots`` never imports it."""

__version__ = "0.1.0"
