"""The safety filter: each control tick, the newest command becomes a safe joint target.

Pure code: no I/O, no clock reads. The control loop calls :func:`step` on *every* tick
with the newest command or ``None``; it rejects bad input, applies the watchdog, the
deadman and the jump guard, then limits step, velocity and position, and holds while
the e-stop is latched. Import everything from here:

- :mod:`.filter`: :func:`step`, the eight stages composed for one tick;
- :mod:`.checks`: each stage's arithmetic as a pure function over arrays (NaN-safe);
- :mod:`.types`: the configuration, commands, state, results and the e-stop latch.
"""

from teleop.safety.checks import Rejection, RejectReason
from teleop.safety.filter import step
from teleop.safety.types import (
    Accepted,
    AcceptedJoints,
    AcceptedVelocity,
    Event,
    FilterState,
    HoldReason,
    MeasurementError,
    Mode,
    ReceivedJoints,
    ReceivedVelocity,
    SafetyConfig,
    SafetyConfigError,
    SafetyCounters,
    TickResult,
    ToJointTarget,
    reset_estop,
    trigger_estop,
)

__all__ = [
    "Accepted",
    "AcceptedJoints",
    "AcceptedVelocity",
    "Event",
    "FilterState",
    "HoldReason",
    "MeasurementError",
    "Mode",
    "ReceivedJoints",
    "ReceivedVelocity",
    "RejectReason",
    "Rejection",
    "SafetyConfig",
    "SafetyConfigError",
    "SafetyCounters",
    "TickResult",
    "ToJointTarget",
    "reset_estop",
    "step",
    "trigger_estop",
]
