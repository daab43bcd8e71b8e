"""Errors of the Feetech serial backend, rooted in ``robots.base.RobotError``.

Every ``serial.SerialException``, every ``OSError`` from the port and every timeout is
translated into one of these in ``robots.serial.bus`` (one boundary, ``raise ... from``).

Exception tree::

    RobotError
    ├── RobotConfigError
    │   ├── CalibrationError        calibration file missing, unreadable or not for this arm
    │   └── ServoMismatchError      a servo answered, but it is not the servo the arm expects
    └── RobotIOError
        ├── BusTimeoutError         no status packet in time, after the bounded retries
        ├── CorruptPacketError      status packets kept failing their checks, after retries
        ├── RobotDisconnectedError  the port cannot be opened, or closed under us ("cable
        │                           pulled"); connect() again once it is back
        └── TorqueOffError          disconnect() could not confirm that torque is off
"""

from __future__ import annotations

from robots.base import RobotConfigError, RobotIOError


class CalibrationError(RobotConfigError):
    """The calibration file is missing, unreadable, or does not fit this arm."""


class ServoMismatchError(RobotConfigError):
    """A servo on the bus is not the model, or not at the id, the arm expects."""


class BusTimeoutError(RobotIOError):
    """No (complete) status packet arrived in time, after every retry.

    Attributes:
        servo_ids: The servos that did not answer.
    """

    def __init__(self, message: str, servo_ids: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.servo_ids = servo_ids


class CorruptPacketError(RobotIOError):
    """A status packet failed its header, id, length or checksum check, after retries."""


class RobotDisconnectedError(RobotIOError):
    """The serial port is gone (unplugged, powered off, wrong path, no permission).

    The driver has closed its side; ``connect()`` opens it again when it is back.
    """


class TorqueOffError(RobotIOError):
    """Torque could not be confirmed off on disconnect: the arm may still be holding."""
