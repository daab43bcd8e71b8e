"""Settings of the leader-arm client."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from robots.serial.calibration import Calibration
from teleop.clients.leader.engage import EASE_STEP_RAD, MAX_MISMATCH_RAD
from teleop.clients.leader.errors import LeaderConfigError
from teleop.clients.leader.feedback import FeedbackConfig
from teleop.clients.link import LinkConfig

WATCHDOG_S = 0.15
"""The server's command watchdog (``SafetyConfig.watchdog_timeout_ns``), [s]."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LeaderConfig(LinkConfig):
    """Settings of ``teleop leader``: the link's (url, token, status rate, backoff; see
    :class:`~teleop.clients.link.LinkConfig`), and:

    Args:
        serial_port: The leader arm's serial device.
        calibration: The leader arm's calibration.
        name: This client's name, shown to others and written into recordings.
        rate_hz: Leader reads (and commands sent) per second, in [Hz].
        baudrate: The leader bus's speed, in [bit/s].
        feedback: Force feedback on the leader's gripper, or None (off).
        max_mismatch_rad: Refuse to engage above this difference on any joint, [rad].
        ease_step_rad: Largest target change per tick while easing in, [rad].
        quiet_s: A gap this long between two commands, in [s], counts as a watchdog
            stop: the leader compares again before sending more.
        reopen_s: Time between attempts to reopen a lost leader port, in [s].
        realtime: Run the relay loop's thread at real-time priority where allowed, as
            the server runs its control loop (see :mod:`.priority`).
    """

    config_error: ClassVar[type[ValueError]] = LeaderConfigError

    serial_port: str
    calibration: Calibration
    name: str = "leader"
    rate_hz: float = 100.0
    baudrate: int = 1_000_000
    feedback: FeedbackConfig | None = None
    max_mismatch_rad: float = MAX_MISMATCH_RAD
    ease_step_rad: float = EASE_STEP_RAD
    quiet_s: float = WATCHDOG_S
    reopen_s: float = 0.5
    realtime: bool = True

    def __post_init__(self) -> None:
        if not 10.0 <= self.rate_hz <= 500.0:
            raise LeaderConfigError(f"rate_hz {self.rate_hz} outside [10, 500] Hz")
        if not 0.0 < self.ease_step_rad <= self.max_mismatch_rad <= math.pi:
            raise LeaderConfigError(
                f"need 0 < ease_step_rad ({self.ease_step_rad}) <= max_mismatch_rad "
                f"({self.max_mismatch_rad}) <= pi rad"
            )
        positive = (self.quiet_s, self.reopen_s, self.status_hz, self.timeout_s)
        if not all(math.isfinite(v) and v > 0 for v in positive):
            raise LeaderConfigError("quiet_s, reopen_s, status_hz and timeout_s must be > 0")
        LinkConfig.__post_init__(self)  # super() fails in a slots dataclass

    @property
    def period_s(self) -> float:
        """One tick, in [s]."""
        return 1.0 / self.rate_hz
