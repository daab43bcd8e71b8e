"""The ``--mapping`` TOML file: overrides on top of a layout, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from teleop.clients.gamepad.errors import MappingError
from teleop.clients.gamepad.layouts import PLAYSTATION, XBOX
from teleop.clients.gamepad.mapfile import Overrides, load_overrides
from teleop.clients.gamepad.mapping import AxisBinding, PadInput, map_input


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_layout_as_it_is() -> None:
    mapping = Overrides().apply(XBOX)
    assert mapping.layout == "xbox"
    assert dict(mapping.axes) == dict(XBOX.axes)
    assert dict(mapping.buttons) == dict(XBOX.buttons)


def test_file_overrides_axes_buttons_feel_and_rumble(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [axes]
        x = { axis = 1, invert = false }
        y = 2
        [axes.yaw]
        invert = false
        [buttons]
        deadman = 5
        record_discard = -1
        [feel]
        deadzone = 0.2
        max_linear_mps = 0.05
        reset_needs_deadman = false
        [rumble]
        force_full_n = 10
        max_strength = 1.0
        """,
    )
    overrides = load_overrides(path)
    mapping = overrides.apply(XBOX)
    assert mapping.axes["x"] == AxisBinding(1, invert=False)
    assert mapping.axes["y"] == AxisBinding(2, invert=True)  # index changed, invert kept
    assert mapping.axes["yaw"] == AxisBinding(XBOX.axes["yaw"].axis, invert=False)
    assert mapping.axes["z"] == XBOX.axes["z"]  # untouched
    assert mapping.buttons["deadman"] == 5 and mapping.buttons["record_discard"] == -1
    assert mapping.buttons["estop"] == XBOX.buttons["estop"]
    assert mapping.feel.deadzone == 0.2 and mapping.feel.max_linear_mps == 0.05
    assert mapping.feel.reset_needs_deadman is False
    assert overrides.rumble.force_full_n == 10.0 and overrides.rumble.max_strength == 1.0


def test_overridden_bindings_drive_the_mapping(tmp_path: Path) -> None:
    mapping = load_overrides(write(tmp_path, "[buttons]\ndeadman = 5\n")).apply(XBOX)
    axes = (0.0, -1.0, -1.0, 0.0, 0.0, -1.0)
    old_deadman = PadInput(axes, tuple(i == 4 for i in range(11)))
    new_deadman = PadInput(axes, tuple(i == 5 for i in range(11)))
    assert not map_input(mapping, old_deadman, None).deadman
    assert map_input(mapping, new_deadman, None).linear[0] > 0.0


def test_layout_key_forces_a_builtin_layout(tmp_path: Path) -> None:
    overrides = load_overrides(write(tmp_path, 'layout = "playstation"\n'))
    mapping = overrides.apply(XBOX)  # detected Xbox, forced PlayStation
    assert mapping.layout == "playstation"
    assert dict(mapping.buttons) == dict(PLAYSTATION.buttons)
    assert load_overrides(write(tmp_path, 'layout = "auto"\n')).apply(XBOX).layout == "xbox"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[feel]\ndeadzone = 1.5\n", r"\[feel\].deadzone: 1.5 outside \[0.0, 0.9\]"),
        ("[feel]\ndeadzone = 'big'\n", r"\[feel\].deadzone: expected a number, got 'big'"),
        ("[feel]\ndeadzone = nan\n", r"\[feel\].deadzone: expected a finite number"),
        ("[feel]\nexpo = true\n", r"\[feel\].expo: expected a number, got True"),
        ("[feel]\nreset_needs_deadman = 1\n", r"\[feel\].reset_needs_deadman: expected true"),
        ("[feel]\nspeed = 1\n", r"unknown key 'speed' in \[feel\]; known: deadzone"),
        ("[axes]\nroll = 3\n", r"unknown key 'roll' in \[axes\]; known: x, y, z, yaw, gripper"),
        ("[axes]\nx = -2\n", r"\[axes\].x: expected an integer >= 0, got -2"),
        ("[axes]\nx = 1.5\n", r"\[axes\].x: expected an axis index"),
        ("[axes]\nx = { axis = 'one' }\n", r"\[axes\].x.axis: expected an integer >= 0"),
        ("[axes]\nx = { invert = 'yes' }\n", r"\[axes\].x.invert: expected true or false"),
        ("[axes]\nx = { axes = 1 }\n", r"unknown key 'axes' in \[axes.x\]"),
        ("[buttons]\nestop = -2\n", r"\[buttons\].estop: expected an integer >= 0 \(or -1"),
        ("[buttons]\nestop = true\n", r"\[buttons\].estop: expected an integer"),
        ("[buttons]\ndeadman = -1\n", r"\[buttons\].deadman: cannot be unbound"),
        ("[buttons]\nturbo = 3\n", r"unknown key 'turbo' in \[buttons\]"),
        ("[rumble]\nforce_full_n = 0.5\n", r"\[rumble\].force_full_n: 0.5 must be greater"),
        ("[rumble]\nmax_strength = 2\n", r"\[rumble\].max_strength: 2.0 outside \[0, 1\]"),
        ('layout = "nes"\n', r"layout: 'nes' is not a built-in layout; known: auto, xbox"),
        ("feel = 3\n", r"feel: expected a table"),
        ("colour = 'red'\n", r"unknown key 'colour' in the top level"),
        ("[feel\n", r"not valid TOML"),
    ],
)
def test_bad_file_names_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError, match=expected) as info:
        load_overrides(path)  # every error shows at load time, before any pad
    assert str(info.value).startswith(f"{path}: ")


def test_missing_file_is_a_mapping_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_overrides(tmp_path / "nope.toml")
