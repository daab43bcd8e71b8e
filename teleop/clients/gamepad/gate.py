"""When to send a velocity command: the deadman gate. Pure; time is passed in.

::

    LOCKED ──deadman up──▶ IDLE ──deadman down──▶ DRIVING ──deadman up──▶ IDLE
       ▲                                             │   (one zero command,
       └──── pad lost, new pad, reconnect, e-stop ───┘    deadman false)

- ``DRIVING`` sends the newest intent every ``period_s`` (the server's watchdog holds
  the arm if commands stop for 150 ms).
- Leaving ``DRIVING`` by releasing the deadman sends one zero-velocity command with
  ``deadman: false``, then nothing.
- Losing the pad, changing pads, a new connection and the e-stop all go to
  ``LOCKED`` and send nothing (the watchdog holds the arm). From ``LOCKED`` the
  deadman must be seen released before a press drives again, so a deadman that was
  held through the interruption never moves the arm by itself.
"""

from __future__ import annotations

import dataclasses
from enum import Enum

from teleop.clients.gamepad.mapping import ZERO3, Intent, Vector3


class Drive(Enum):
    """The gate's state."""

    LOCKED = "locked"
    """Not sending; waiting to see the deadman released."""
    IDLE = "idle"
    """Not sending; a deadman press starts driving."""
    DRIVING = "driving"
    """Sending the operator's intent at a steady rate."""


@dataclasses.dataclass(frozen=True, slots=True)
class VelocitySend:
    """One ``ee_velocity`` command to send: [m/s], [rad/s], opening in [0, 1]."""

    linear: Vector3
    angular: Vector3
    gripper: float
    deadman: bool


class DriveGate:
    """Decides, once per pad poll, whether to send a command and which.

    Args:
        period_s: Time between commands while driving, in [s] (0.02 for 50 Hz).
    """

    def __init__(self, period_s: float) -> None:
        if not period_s > 0.0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.period_s = period_s
        self.state = Drive.LOCKED
        self._next_s = 0.0
        self._device_id: int | None = None

    def lock(self) -> None:
        """Stop sending now, and wait for the deadman to be released and pressed again."""
        self.state = Drive.LOCKED

    def step(self, now_s: float, intent: Intent | None, allowed: bool) -> VelocitySend | None:
        """Advance the gate.

        Args:
            now_s: A monotonic time in [s].
            intent: The newest intent, or None when there is no pad.
            allowed: False while motion cannot be sent (no lease, e-stop latched).

        Returns:
            The command to send now, or None.
        """
        if intent is None or not allowed:
            self.lock()
            self._device_id = None if intent is None else intent.device_id
            return None
        if intent.device_id != self._device_id:
            self.lock()
            self._device_id = intent.device_id
        if self.state is Drive.LOCKED:
            if not intent.deadman:
                self.state = Drive.IDLE
            return None
        if self.state is Drive.IDLE:
            if not intent.deadman:
                return None
            self.state = Drive.DRIVING
            self._next_s = now_s
        if not intent.deadman:
            self.state = Drive.IDLE
            return VelocitySend(ZERO3, ZERO3, intent.gripper, deadman=False)
        if now_s < self._next_s:
            return None
        # Keep a steady cadence; after a stall, restart it rather than send a burst.
        self._next_s = max(self._next_s + self.period_s, now_s + self.period_s / 2)
        return VelocitySend(intent.linear, intent.angular, intent.gripper, deadman=True)
