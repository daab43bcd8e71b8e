"""Settings of the gamepad client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from teleop.client import TeleopClient
from teleop.clients.gamepad.mapfile import Overrides
from teleop.clients.link import LinkConfig
from teleop.errors import ConfigError


@dataclasses.dataclass(frozen=True, slots=True)
class AppConfig(LinkConfig):
    """Settings of the gamepad client: the link's (url, token, status rate, backoff; see
    :class:`~teleop.clients.link.LinkConfig`), and:

    Args:
        name: This client's name, shown to others and written into recordings.
        task: Task text sent with ``record start``.
        overrides: Bindings, feel and rumble settings (from ``--mapping``).
        poll_hz: Pad polls per second, in [Hz].
        send_hz: Commands per second while the deadman is held, in [Hz]
            (at most ``poll_hz``; the server's watchdog holds after 150 ms).
    """

    name: str = "gamepad"
    task: str = ""
    overrides: Overrides = dataclasses.field(default_factory=Overrides)
    poll_hz: float = 100.0
    send_hz: float = 50.0

    def __post_init__(self) -> None:
        if not 10.0 <= self.send_hz <= self.poll_hz <= 1000.0:
            raise ConfigError(
                f"need 10 <= send_hz ({self.send_hz}) <= poll_hz ({self.poll_hz}) <= 1000 Hz"
            )
        LinkConfig.__post_init__(self)  # super() fails in a slots dataclass


ClientFactory = Callable[[AppConfig], TeleopClient]
"""Makes a client per connection: :func:`teleop.clients.link.make_client`, or a test's."""
