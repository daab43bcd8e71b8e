"""Settings of the gamepad client, and the client it connects with."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from teleop.client import TeleopClient
from teleop.clients.gamepad.mapfile import Overrides
from teleop.errors import ConfigError


@dataclasses.dataclass(frozen=True, slots=True)
class AppConfig:
    """Settings of the gamepad client.

    Args:
        url: The server's ``ws://HOST:PORT``.
        token: Its ``--token``, or None.
        name: This client's name, shown to others and written into recordings.
        task: Task text sent with ``record start``.
        overrides: Bindings, feel and rumble settings (from ``--mapping``).
        poll_hz: Pad polls per second, in [Hz].
        send_hz: Commands per second while the deadman is held, in [Hz]
            (at most ``poll_hz``; the server's watchdog holds after 150 ms).
        status_hz: Status updates per second, in [Hz].
        backoff_initial_s: First wait before reconnecting, in [s]; it doubles.
        backoff_max_s: Longest wait before reconnecting, in [s].
        timeout_s: How long a request waits for the server, in [s].
    """

    url: str
    token: str | None = None
    name: str = "gamepad"
    task: str = ""
    overrides: Overrides = dataclasses.field(default_factory=Overrides)
    poll_hz: float = 100.0
    send_hz: float = 50.0
    status_hz: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not 10.0 <= self.send_hz <= self.poll_hz <= 1000.0:
            raise ConfigError(
                f"need 10 <= send_hz ({self.send_hz}) <= poll_hz ({self.poll_hz}) <= 1000 Hz"
            )
        if not 0.0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ConfigError("need 0 < backoff_initial_s <= backoff_max_s")
        if not (self.status_hz > 0.0 and self.timeout_s > 0.0):
            raise ConfigError("status_hz and timeout_s must be > 0")


ClientFactory = Callable[[AppConfig], TeleopClient]


def make_client(config: AppConfig) -> TeleopClient:
    """A fresh operator client for ``config.url``."""
    return TeleopClient(
        config.url, token=config.token, name=config.name, timeout_s=config.timeout_s
    )
