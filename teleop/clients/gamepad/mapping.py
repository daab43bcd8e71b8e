"""The pure mapping from a gamepad's axes and buttons to what the operator wants.

No pygame, no clock, no I/O: a :class:`PadInput` snapshot goes in, an :class:`Intent`
(an end-effector velocity, a gripper opening, the deadman, and the button actions
pressed since the last snapshot) comes out. The device and the app wrap it.

The functions, in the order they apply to the sticks:

1. :func:`radial_deadzone` over each stick's pair of axes (left: x/y, right: z/yaw),
   so a diagonal push is not cut to a cross;
2. :func:`expo` on the remaining deflection, for fine control near the centre;
3. scaling by ``Feel.max_linear_mps`` [m/s] or ``Feel.max_yaw_radps`` [rad/s], and by
   ``Feel.slow_scale`` while the slow button is held.

Motion is zero unless the deadman is held. Actions fire on the press of a button,
never while it is held.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from enum import StrEnum

from teleop.clients.gamepad.errors import MappingError

AXIS_ROLES = ("x", "y", "z", "yaw", "gripper")
"""What an axis can drive: base-frame x/y/z velocity, yaw rate, the gripper trigger."""

BUTTON_ROLES = (
    "deadman",
    "slow",
    "record_start",
    "record_stop",
    "record_fail",
    "record_discard",
    "estop",
    "reset",
)
"""What a button can do. ``deadman`` and ``slow`` act while held; the others on press."""

UNBOUND = -1
"""A button index meaning "no button" (``deadman`` must stay bound)."""

TRIGGER_REST = -1.0
"""SDL reports a trigger at rest as -1 and fully pressed as +1."""


class Action(StrEnum):
    """What a button press asks for, once per press."""

    ESTOP = "estop"
    RESET = "reset"
    RECORD_START = "record_start"
    RECORD_STOP = "record_stop"
    RECORD_FAIL = "record_fail"
    RECORD_DISCARD = "record_discard"


@dataclasses.dataclass(frozen=True, slots=True)
class AxisBinding:
    """One pad axis feeding one role.

    Args:
        axis: SDL joystick axis index (>= 0).
        invert: Flip the sign (sticks) or which end counts as pressed (triggers).
    """

    axis: int
    invert: bool = False

    def __post_init__(self) -> None:
        _check_index("axis", self.axis, allow_unbound=False)


def _check_index(key: str, value: object, *, allow_unbound: bool) -> None:
    lowest = UNBOUND if allow_unbound else 0
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        hint = " (or -1 for none)" if allow_unbound else ""
        raise MappingError(f"{key}: expected an integer >= 0{hint}, got {value!r}")


def _check_range(key: str, value: float, low: float, high: float, *, open_low: bool) -> None:
    ok_low = value > low if open_low else value >= low
    if not (math.isfinite(value) and ok_low and value <= high):
        bracket = "(" if open_low else "["
        raise MappingError(f"{key}: {value!r} outside {bracket}{low}, {high}]")


@dataclasses.dataclass(frozen=True, slots=True)
class Feel:
    """How the sticks and trigger respond.

    Args:
        deadzone: Radial stick deadzone, as a fraction of full deflection in [0, 0.9].
        trigger_deadzone: Trigger travel ignored at rest, a fraction in [0, 0.9].
        expo: Curve in [0, 1]: 0 is linear, 1 is cubic (finer near the centre).
        max_linear_mps: Speed at full deflection in [m/s], (0, 2].
        max_yaw_radps: Yaw rate at full deflection in [rad/s], (0, 6.3].
        slow_scale: Factor on both while the slow button is held, (0, 1].
        reset_needs_deadman: The e-stop reset button only acts while the deadman is
            held (a two-handed combo, so it is never pressed by accident).
    """

    deadzone: float = 0.12
    trigger_deadzone: float = 0.05
    expo: float = 0.3
    max_linear_mps: float = 0.10
    max_yaw_radps: float = 0.8
    slow_scale: float = 0.3
    reset_needs_deadman: bool = True

    def __post_init__(self) -> None:
        _check_range("feel.deadzone", self.deadzone, 0.0, 0.9, open_low=False)
        _check_range("feel.trigger_deadzone", self.trigger_deadzone, 0.0, 0.9, open_low=False)
        _check_range("feel.expo", self.expo, 0.0, 1.0, open_low=False)
        _check_range("feel.max_linear_mps", self.max_linear_mps, 0.0, 2.0, open_low=True)
        _check_range("feel.max_yaw_radps", self.max_yaw_radps, 0.0, 6.3, open_low=True)
        _check_range("feel.slow_scale", self.slow_scale, 0.0, 1.0, open_low=True)


@dataclasses.dataclass(frozen=True, slots=True)
class GamepadMapping:
    """A complete set of bindings for one pad.

    Args:
        layout: Name of the layout it was built from (for messages).
        axes: One :class:`AxisBinding` for every role in :data:`AXIS_ROLES`.
        buttons: A button index (or :data:`UNBOUND`) for every role in
            :data:`BUTTON_ROLES`.
        feel: Deadzones, curve and speeds.
    """

    layout: str
    axes: Mapping[str, AxisBinding]
    buttons: Mapping[str, int]
    feel: Feel = dataclasses.field(default_factory=Feel)

    def __post_init__(self) -> None:
        for role in AXIS_ROLES:
            if role not in self.axes:
                raise MappingError(
                    f"axes.{role}: missing; every one of {AXIS_ROLES} needs a binding"
                )
        for role in BUTTON_ROLES:
            if role not in self.buttons:
                raise MappingError(f"buttons.{role}: missing")
            _check_index(f"buttons.{role}", self.buttons[role], allow_unbound=True)
        if self.buttons["deadman"] == UNBOUND:
            raise MappingError("buttons.deadman: cannot be unbound; motion needs a deadman")


@dataclasses.dataclass(frozen=True, slots=True)
class PadInput:
    """One snapshot of a pad.

    Args:
        axes: Every axis, in [-1, 1].
        buttons: Every button, True while held.
        pressed: Buttons that went down since the previous snapshot, even if they are
            already up again (a tap shorter than one poll).
        device_id: Which attachment of a pad this is; it changes whenever a pad is
            plugged in (the same pad plugged back in gets a new one).
    """

    axes: tuple[float, ...]
    buttons: tuple[bool, ...]
    pressed: frozenset[int] = frozenset()
    device_id: int = 0

    def axis(self, index: int, rest: float = 0.0) -> float:
        """Axis ``index`` clamped to [-1, 1]; ``rest`` if the pad lacks it or says NaN."""
        if index >= len(self.axes) or not math.isfinite(self.axes[index]):
            return rest
        return max(-1.0, min(1.0, self.axes[index]))

    def held(self, index: int) -> bool:
        return 0 <= index < len(self.buttons) and self.buttons[index]


Vector3 = tuple[float, float, float]
ZERO3: Vector3 = (0.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True, slots=True)
class Intent:
    """What the operator asks for right now.

    Args:
        linear: End-effector velocity in [m/s], base frame; zero without the deadman.
        angular: End-effector angular velocity in [rad/s], base frame (yaw only).
        gripper: Gripper opening in [0, 1] (0 is closed).
        deadman: Whether the deadman is held.
        actions: Buttons pressed since the previous snapshot, e-stop first.
        device_id: The ``PadInput.device_id`` it came from.
    """

    linear: Vector3
    angular: Vector3
    gripper: float
    deadman: bool
    actions: tuple[Action, ...] = ()
    device_id: int = 0


def radial_deadzone(a: float, b: float, deadzone: float) -> tuple[float, float]:
    """Apply a circular deadzone to one stick and rescale the rest to [0, 1].

    Args:
        a: First axis of the stick, in [-1, 1].
        b: Second axis of the stick, in [-1, 1].
        deadzone: Radius ignored around the centre, a fraction of full deflection.

    Returns:
        The two axes with the same direction and a magnitude that is 0 inside the
        deadzone, rises from 0 at its edge, and is at most 1.
    """
    magnitude = math.hypot(a, b)
    if magnitude <= deadzone:
        return 0.0, 0.0
    scaled = min(1.0, (magnitude - deadzone) / (1.0 - deadzone))
    return a / magnitude * scaled, b / magnitude * scaled


def expo(value: float, amount: float) -> float:
    """Blend linear and cubic response: ``(1 - amount) * v + amount * v**3``, v in [-1, 1]."""
    return (1.0 - amount) * value + amount * value**3


def _stick(pad: PadInput, first: AxisBinding, second: AxisBinding, feel: Feel) -> Vector3:
    """One stick's two roles after deadzone and curve, each in [-1, 1] (third is 0)."""
    a, b = radial_deadzone(pad.axis(first.axis), pad.axis(second.axis), feel.deadzone)
    magnitude = math.hypot(a, b)
    if magnitude == 0.0:
        return ZERO3
    curved = expo(magnitude, feel.expo) / magnitude
    sign_a = -1.0 if first.invert else 1.0
    sign_b = -1.0 if second.invert else 1.0
    return sign_a * a * curved, sign_b * b * curved, 0.0


def trigger_travel(value: float, binding: AxisBinding, deadzone: float) -> float:
    """How far a trigger is pressed, in [0, 1], from its SDL axis value in [-1, 1].

    Args:
        value: The axis value; -1 is at rest (+1 with ``binding.invert``).
        binding: The trigger's binding.
        deadzone: Travel ignored at rest, a fraction in [0, 0.9].
    """
    travel = (value - TRIGGER_REST) / (1.0 - TRIGGER_REST)
    if binding.invert:
        travel = 1.0 - travel
    travel = max(0.0, min(1.0, travel))
    if travel <= deadzone:
        return 0.0
    return (travel - deadzone) / (1.0 - deadzone)


_ACTION_ORDER = (
    Action.ESTOP,
    Action.RESET,
    Action.RECORD_START,
    Action.RECORD_STOP,
    Action.RECORD_FAIL,
    Action.RECORD_DISCARD,
)


def pressed_now(pad: PadInput, previous: PadInput | None, index: int) -> bool:
    """Whether button ``index`` was pressed (not merely held) since ``previous``.

    A button held when a pad first appears (``previous`` None) does not count.
    """
    if index == UNBOUND:
        return False
    if index in pad.pressed:
        return True
    return previous is not None and pad.held(index) and not previous.held(index)


def button_actions(
    mapping: GamepadMapping, pad: PadInput, previous: PadInput | None
) -> tuple[Action, ...]:
    """The actions whose buttons were pressed since ``previous``, e-stop first."""
    deadman = pad.held(mapping.buttons["deadman"])
    actions = []
    for action in _ACTION_ORDER:
        if not pressed_now(pad, previous, mapping.buttons[action.value]):
            continue
        if action is Action.RESET and mapping.feel.reset_needs_deadman and not deadman:
            continue
        actions.append(action)
    return tuple(actions)


def map_input(mapping: GamepadMapping, pad: PadInput, previous: PadInput | None) -> Intent:
    """Turn a pad snapshot into an :class:`Intent`.

    Args:
        mapping: The bindings and feel.
        pad: The newest snapshot.
        previous: The snapshot before it from the same pad, or None; used to see
            presses.

    Returns:
        Velocities in [m/s] and [rad/s] (zero unless the deadman is held), the gripper
        opening in [0, 1] (the trigger pressed fully closes it), and the actions.
    """
    feel = mapping.feel
    axes = mapping.axes
    buttons = mapping.buttons
    deadman = pad.held(buttons["deadman"])
    trigger = axes["gripper"]
    rest = -TRIGGER_REST if trigger.invert else TRIGGER_REST
    closing = trigger_travel(pad.axis(trigger.axis, rest), trigger, feel.trigger_deadzone)
    actions = button_actions(mapping, pad, previous)
    if not deadman:
        return Intent(ZERO3, ZERO3, 1.0 - closing, False, actions, pad.device_id)
    scale = feel.slow_scale if pad.held(buttons["slow"]) else 1.0
    x, y, _ = _stick(pad, axes["x"], axes["y"], feel)
    z, yaw, _ = _stick(pad, axes["z"], axes["yaw"], feel)
    speed = feel.max_linear_mps * scale
    linear = (x * speed, y * speed, z * speed)
    angular = (0.0, 0.0, yaw * feel.max_yaw_radps * scale)
    return Intent(linear, angular, 1.0 - closing, True, actions, pad.device_id)
