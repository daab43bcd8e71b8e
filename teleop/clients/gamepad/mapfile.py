"""Read a ``--mapping`` TOML file that overrides any binding or setting.

Every key is optional; what a file leaves out comes from the pad's built-in layout
(see :mod:`teleop.clients.gamepad.layouts`) and the defaults of ``Feel`` and
``RumbleConfig``. A complete example::

    layout = "xbox"            # force a built-in layout instead of detecting it

    [axes]                     # SDL axis index, and invert to flip the direction
    x = { axis = 1, invert = true }
    y = 0                      # a bare integer keeps the layout's invert
    gripper = { axis = 2 }     # the left trigger closes the gripper instead

    [axes.yaw]
    invert = false             # the layout's axis, flipped back

    [buttons]                  # SDL button index; -1 unbinds (not the deadman)
    deadman = 5
    record_discard = -1

    [feel]
    deadzone = 0.15            # radial, fraction of full deflection
    trigger_deadzone = 0.05
    expo = 0.5                 # 0 linear .. 1 cubic
    max_linear_mps = 0.05      # [m/s] at full deflection
    max_yaw_radps = 0.5        # [rad/s] at full deflection
    slow_scale = 0.25          # while the slow button is held
    reset_needs_deadman = true

    [rumble]
    force_min_n = 1.0          # [N] below this: no rumble
    force_full_n = 15.0        # [N] at this and above: max_strength
    max_strength = 1.0         # in [0, 1]; 0 turns rumble off

Errors name the file and the key: ``pad.toml: [feel].deadzone: 1.5 outside [0.0, 0.9]``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from teleop.clients.gamepad.errors import MappingError
from teleop.clients.gamepad.feedback import RumbleConfig
from teleop.clients.gamepad.layouts import LAYOUTS, Layout
from teleop.clients.gamepad.mapping import (
    AXIS_ROLES,
    BUTTON_ROLES,
    AxisBinding,
    Feel,
    GamepadMapping,
)

_TOP_KEYS = ("layout", "axes", "buttons", "feel", "rumble")


@dataclasses.dataclass(frozen=True, slots=True)
class AxisOverride:
    """A partial axis binding: None keeps the layout's value."""

    axis: int | None = None
    invert: bool | None = None

    def apply(self, base: AxisBinding) -> AxisBinding:
        return AxisBinding(
            base.axis if self.axis is None else self.axis,
            base.invert if self.invert is None else self.invert,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Overrides:
    """What a mapping file changes; the default changes nothing.

    Args:
        source: Where it came from, for messages.
        layout: A built-in layout to use instead of detecting one, or None.
        axes: Axis overrides by role.
        buttons: Button indices by role (-1 unbinds).
        feel: Deadzones, curve and speeds.
        rumble: Force-feedback settings.
    """

    source: str = "<defaults>"
    layout: str | None = None
    axes: Mapping[str, AxisOverride] = dataclasses.field(default_factory=dict)
    buttons: Mapping[str, int] = dataclasses.field(default_factory=dict)
    feel: Feel = dataclasses.field(default_factory=Feel)
    rumble: RumbleConfig = dataclasses.field(default_factory=RumbleConfig)

    def apply(self, layout: Layout) -> GamepadMapping:
        """The complete mapping: ``layout`` (or the forced one) with these overrides."""
        base = LAYOUTS[self.layout] if self.layout else layout
        axes = {
            role: self.axes[role].apply(binding) if role in self.axes else binding
            for role, binding in base.axes.items()
        }
        buttons = {**base.buttons, **self.buttons}
        try:
            return GamepadMapping(base.name, axes, buttons, self.feel)
        except MappingError as exc:
            raise MappingError(f"{self.source}: {_bracket(str(exc))}") from None


def load_overrides(path: Path) -> Overrides:
    """Read and check a mapping file.

    Raises:
        MappingError: The file cannot be read, is not TOML, or has a bad key or value;
            the message starts with the file name and names the key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from exc
    return parse_overrides(document, str(path))


def parse_overrides(document: Mapping[str, Any], source: str) -> Overrides:
    """Check a parsed TOML document; see the module docstring for its keys."""
    try:
        _known_keys(document, _TOP_KEYS, "the top level")
        overrides = Overrides(
            source=source,
            layout=_layout_name(document.get("layout")),
            axes=MappingProxyType(_axes(_table(document, "axes"))),
            buttons=MappingProxyType(_buttons(_table(document, "buttons"))),
            feel=Feel(**_settings(_table(document, "feel"), Feel, "feel")),
            rumble=RumbleConfig(**_settings(_table(document, "rumble"), RumbleConfig, "rumble")),
        )
    except MappingError as exc:
        raise MappingError(f"{source}: {_bracket(str(exc))}") from None
    for layout in LAYOUTS.values():  # fail now, not when a pad is plugged in
        overrides.apply(layout)
    return overrides


def _bracket(message: str) -> str:
    """``feel.deadzone: ...`` → ``[feel].deadzone: ...``, the way a TOML file reads."""
    head, dot, rest = message.partition(".")
    if dot and head in _TOP_KEYS and " " not in head:
        return f"[{head}].{rest}"
    return message


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            raise MappingError(f"unknown key {key!r} in {where}; known: {', '.join(known)}")


def _table(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{key}: expected a table ([{key}]), got {value!r}")
    return value


def _layout_name(value: object) -> str | None:
    if value is None or value == "auto":
        return None
    if not isinstance(value, str) or value not in LAYOUTS:
        known = ", ".join(["auto", *LAYOUTS])
        raise MappingError(f"layout: {value!r} is not a built-in layout; known: {known}")
    return value


def _axes(table: Mapping[str, Any]) -> dict[str, AxisOverride]:
    _known_keys(table, AXIS_ROLES, "[axes]")
    return {role: _axis(value, f"axes.{role}") for role, value in table.items()}


def _axis(value: object, key: str) -> AxisOverride:
    if isinstance(value, int) and not isinstance(value, bool):
        return AxisOverride(axis=_index(value, key, lowest=0))
    if not isinstance(value, dict):
        raise MappingError(f"{key}: expected an axis index or {{ axis = N, invert = BOOL }}")
    _known_keys(value, ("axis", "invert"), f"[{key}]")
    axis = value.get("axis")
    invert = value.get("invert")
    if invert is not None and not isinstance(invert, bool):
        raise MappingError(f"{key}.invert: expected true or false, got {invert!r}")
    return AxisOverride(
        axis=None if axis is None else _index(axis, f"{key}.axis", lowest=0), invert=invert
    )


def _buttons(table: Mapping[str, Any]) -> dict[str, int]:
    _known_keys(table, BUTTON_ROLES, "[buttons]")
    return {role: _index(value, f"buttons.{role}", lowest=-1) for role, value in table.items()}


def _index(value: object, key: str, *, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        hint = " (or -1 for none)" if lowest < 0 else ""
        raise MappingError(f"{key}: expected an integer >= 0{hint}, got {value!r}")
    return value


def _settings(table: Mapping[str, Any], cls: type, section: str) -> dict[str, Any]:
    """Check ``table`` against the fields of the dataclass ``cls``: names and types."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _known_keys(table, tuple(fields), f"[{section}]")
    values: dict[str, Any] = {}
    for key, value in table.items():
        wants_bool = isinstance(fields[key].default, bool)
        if wants_bool:
            if not isinstance(value, bool):
                raise MappingError(f"{section}.{key}: expected true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise MappingError(f"{section}.{key}: expected a number, got {value!r}")
        elif not math.isfinite(value):
            raise MappingError(f"{section}.{key}: expected a finite number, got {value!r}")
        values[key] = float(value) if not wants_bool else value
    return values
