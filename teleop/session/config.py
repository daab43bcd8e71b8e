"""The session's settings and the station states it keeps: the e-stop latch, recording."""

from __future__ import annotations

import dataclasses
from enum import Enum

from teleop.errors import ConfigError
from teleop.protocol import RobotInfo

CLOSE_POLICY_VIOLATION = 1008
"""Websocket close code for a client that broke the rules (flood, hello timeout)."""


class EstopState(Enum):
    ARMED = "armed"
    LATCHED = "latched"


class RecordState(Enum):
    IDLE = "idle"
    RECORDING = "recording"


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """Session settings.

    Attributes:
        robot: The robot, as told to clients in ``welcome``; commands are checked
            against its joint count.
        rate_hz: Control loop rate in [Hz], told to clients in ``welcome``.
        max_rate_hz: Messages per second a client may send in the long run.
        burst: Messages a client may send at once above ``max_rate_hz``.
        flood_grace_s: A client still over the limit this long [s] after the
            ``rate_limited`` error is disconnected.
        hello_timeout_s: A client that has not said ``hello`` this long [s] after
            connecting is disconnected by ``poll``.
        error_interval_s: Least time [s] between two errors of one code about
            ``command`` messages to one client.
    """

    robot: RobotInfo
    rate_hz: float
    max_rate_hz: float = 1000.0
    burst: int = 200
    flood_grace_s: float = 1.0
    hello_timeout_s: float = 5.0
    error_interval_s: float = 0.5

    def __post_init__(self) -> None:
        positive = ("rate_hz", "max_rate_hz", "burst", "flood_grace_s", "hello_timeout_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"SessionConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.error_interval_s < 0:
            raise ConfigError(
                f"SessionConfig.error_interval_s must be >= 0, got {self.error_interval_s}"
            )
