"""Force feedback: how hard the pad rumbles for a given contact force. Pure.

The force is the larger of ``|state.ee_force|`` (contact on the gripper from the
world) and ``state.grasp_force`` (squeeze between the fingers), in [N]. The rumble
strength rises linearly from 0 at ``force_min_n`` to ``max_strength`` at
``force_full_n`` and stays there; below ``force_min_n`` (sensor noise, the gripper's
own weight) the pad is still.
"""

from __future__ import annotations

import dataclasses
import math

from teleop.clients.gamepad.errors import MappingError
from teleop.protocol import State


@dataclasses.dataclass(frozen=True, slots=True)
class RumbleConfig:
    """How contact force turns into rumble.

    Args:
        force_min_n: Forces below this, in [N], give no rumble.
        force_full_n: Force in [N] at which the rumble reaches ``max_strength``.
        max_strength: The strongest rumble, in (0, 1]; 0 disables rumble.
    """

    force_min_n: float = 1.0
    force_full_n: float = 20.0
    max_strength: float = 0.8

    def __post_init__(self) -> None:
        if not (math.isfinite(self.force_min_n) and self.force_min_n >= 0.0):
            raise MappingError(f"rumble.force_min_n: {self.force_min_n!r} must be >= 0")
        if not (math.isfinite(self.force_full_n) and self.force_full_n > self.force_min_n):
            raise MappingError(
                f"rumble.force_full_n: {self.force_full_n!r} must be greater than "
                f"rumble.force_min_n ({self.force_min_n})"
            )
        if not (math.isfinite(self.max_strength) and 0.0 <= self.max_strength <= 1.0):
            raise MappingError(f"rumble.max_strength: {self.max_strength!r} outside [0, 1]")


def contact_force_n(state: State | None) -> float:
    """The contact force to feel, in [N]: max of ``|ee_force|`` and ``grasp_force``."""
    if state is None:
        return 0.0
    force = max(math.hypot(*state.ee_force), state.grasp_force)
    return force if math.isfinite(force) else 0.0


def rumble_strength(force_n: float, config: RumbleConfig) -> float:
    """Rumble strength in [0, ``config.max_strength``] for a contact force in [N]."""
    if not math.isfinite(force_n) or force_n < config.force_min_n:
        return 0.0
    fraction = (force_n - config.force_min_n) / (config.force_full_n - config.force_min_n)
    return config.max_strength * min(1.0, fraction)
