"""The pure mapping from axes and buttons to an intent: no pygame here."""

from __future__ import annotations

import dataclasses
import math

import pytest

from teleop.clients.gamepad.errors import MappingError
from teleop.clients.gamepad.layouts import LAYOUTS, PLAYSTATION, XBOX, detect_layout, guid_vendor
from teleop.clients.gamepad.mapping import (
    Action,
    AxisBinding,
    Feel,
    GamepadMapping,
    PadInput,
    expo,
    map_input,
    radial_deadzone,
    trigger_travel,
)

LINEAR_FEEL = Feel(deadzone=0.1, trigger_deadzone=0.0, expo=0.0, max_linear_mps=0.2)
DEADMAN, SLOW, REC_START, REC_STOP, ESTOP, RESET = 4, 5, 0, 1, 6, 7  # Xbox layout
LEFT_X, LEFT_Y, RIGHT_X, RIGHT_Y, RT = 0, 1, 3, 4, 5


def xbox(feel: Feel = LINEAR_FEEL) -> GamepadMapping:
    return GamepadMapping("xbox", XBOX.axes, XBOX.buttons, feel)


def pad(
    axes: dict[int, float] | None = None,
    held: tuple[int, ...] = (),
    pressed: tuple[int, ...] = (),
) -> PadInput:
    values = [-1.0 if i in (2, RT) else 0.0 for i in range(6)]
    for index, value in (axes or {}).items():
        values[index] = value
    buttons = tuple(i in held for i in range(11))
    return PadInput(tuple(values), buttons, frozenset(pressed))


# -- deadzone and curve -----------------------------------------------------------------------


def test_radial_deadzone_zeroes_inside_and_rescales_outside() -> None:
    assert radial_deadzone(0.07, 0.07, 0.1) == (0.0, 0.0)  # |v| = 0.099
    a, b = radial_deadzone(1.0, 0.0, 0.1)
    assert (a, b) == (1.0, 0.0)
    a, _ = radial_deadzone(0.55, 0.0, 0.1)
    assert a == pytest.approx(0.5)  # halfway between the edge and full deflection


def test_radial_deadzone_keeps_the_direction_of_a_diagonal() -> None:
    # A square deadzone would zero one component of a shallow diagonal; radial does not.
    a, b = radial_deadzone(0.5, 0.08, 0.1)
    assert b > 0.0
    assert b / a == pytest.approx(0.08 / 0.5)


def test_radial_deadzone_caps_the_corner_at_one() -> None:
    a, b = radial_deadzone(1.0, 1.0, 0.1)
    assert math.hypot(a, b) == pytest.approx(1.0)


def test_expo_keeps_the_ends_and_softens_the_middle() -> None:
    assert expo(1.0, 0.5) == 1.0 and expo(-1.0, 0.5) == -1.0 and expo(0.0, 0.5) == 0.0
    assert expo(0.5, 0.0) == 0.5
    assert expo(0.5, 1.0) == pytest.approx(0.125)


# -- sticks to velocity ----------------------------------------------------------------------


def test_left_stick_up_is_forward_x_at_full_speed() -> None:
    intent = map_input(xbox(), pad({LEFT_Y: -1.0}, held=(DEADMAN,)), None)
    assert intent.linear == pytest.approx((0.2, 0.0, 0.0))
    assert intent.angular == (0.0, 0.0, 0.0)


def test_left_stick_right_is_minus_y_and_right_stick_is_z_and_yaw() -> None:
    mapping = xbox(dataclasses.replace(LINEAR_FEEL, max_yaw_radps=0.5))
    intent = map_input(mapping, pad({LEFT_X: 1.0, RIGHT_Y: -1.0}, held=(DEADMAN,)), None)
    assert intent.linear[1] == pytest.approx(-0.2 / math.sqrt(1))
    intent = map_input(mapping, pad({RIGHT_Y: -1.0}, held=(DEADMAN,)), None)
    assert intent.linear == pytest.approx((0.0, 0.0, 0.2))
    intent = map_input(mapping, pad({RIGHT_X: 1.0}, held=(DEADMAN,)), None)
    assert intent.angular == pytest.approx((0.0, 0.0, -0.5))


def test_small_deflections_inside_the_deadzone_send_zero() -> None:
    intent = map_input(xbox(), pad({LEFT_X: 0.05, LEFT_Y: -0.06}, held=(DEADMAN,)), None)
    assert intent.linear == (0.0, 0.0, 0.0)


def test_inversion_from_the_binding_flips_the_direction() -> None:
    axes = {**XBOX.axes, "x": AxisBinding(LEFT_Y, invert=False)}
    mapping = GamepadMapping("custom", axes, XBOX.buttons, LINEAR_FEEL)
    intent = map_input(mapping, pad({LEFT_Y: -1.0}, held=(DEADMAN,)), None)
    assert intent.linear[0] == pytest.approx(-0.2)


def test_slow_button_scales_speed() -> None:
    feel = dataclasses.replace(LINEAR_FEEL, slow_scale=0.25)
    intent = map_input(xbox(feel), pad({LEFT_Y: -1.0}, held=(DEADMAN, SLOW)), None)
    assert intent.linear[0] == pytest.approx(0.05)


def test_expo_curve_applies_to_the_stick() -> None:
    feel = Feel(deadzone=0.0, expo=1.0, max_linear_mps=1.0)
    intent = map_input(xbox(feel), pad({LEFT_Y: -0.5}, held=(DEADMAN,)), None)
    assert intent.linear[0] == pytest.approx(0.125)


def test_nan_and_out_of_range_axes_are_safe() -> None:
    intent = map_input(xbox(), pad({LEFT_Y: float("nan"), LEFT_X: -1.00003}, held=(DEADMAN,)), None)
    assert intent.linear[0] == 0.0
    assert intent.linear[1] == pytest.approx(0.2)  # clamped to full, not beyond


def test_missing_axes_and_buttons_read_as_rest() -> None:
    tiny = PadInput(axes=(0.0, -1.0), buttons=(False,) * 5 + (True,))
    intent = map_input(xbox(), tiny, None)
    assert not intent.deadman and intent.gripper == 1.0  # no RT axis: the trigger rests


# -- deadman ---------------------------------------------------------------------------------


def test_no_motion_without_the_deadman() -> None:
    intent = map_input(xbox(), pad({LEFT_Y: -1.0, RIGHT_X: 1.0}), None)
    assert not intent.deadman
    assert intent.linear == (0.0, 0.0, 0.0) and intent.angular == (0.0, 0.0, 0.0)


def test_deadman_held_is_reported() -> None:
    assert map_input(xbox(), pad(held=(DEADMAN,)), None).deadman


# -- gripper trigger -------------------------------------------------------------------------


@pytest.mark.parametrize("trigger, opening", [(-1.0, 1.0), (0.0, 0.5), (1.0, 0.0), (-0.98, 1.0)])
def test_trigger_closes_the_gripper(trigger: float, opening: float) -> None:
    feel = dataclasses.replace(LINEAR_FEEL, trigger_deadzone=0.05)
    intent = map_input(xbox(feel), pad({RT: trigger}), None)
    assert intent.gripper == pytest.approx(opening, abs=0.03)


def test_trigger_travel_with_deadzone_and_inversion() -> None:
    plain = AxisBinding(RT)
    assert trigger_travel(-1.0, plain, 0.1) == 0.0
    assert trigger_travel(-0.85, plain, 0.1) == 0.0  # 7.5 % of travel: inside
    assert trigger_travel(1.0, plain, 0.1) == 1.0
    assert trigger_travel(1.0, AxisBinding(RT, invert=True), 0.0) == 0.0


# -- button presses ---------------------------------------------------------------------------


def test_record_start_fires_on_press_not_while_held() -> None:
    mapping = xbox()
    up = pad()
    down = pad(held=(REC_START,))
    assert map_input(mapping, down, up).actions == (Action.RECORD_START,)
    assert map_input(mapping, down, down).actions == ()  # still held: nothing new
    assert map_input(mapping, up, down).actions == ()  # release: nothing


def test_a_tap_shorter_than_a_poll_still_counts() -> None:
    tapped = pad(pressed=(REC_STOP,))  # went down and up between two polls
    assert map_input(xbox(), tapped, pad()).actions == (Action.RECORD_STOP,)


def test_buttons_held_when_the_pad_appears_do_nothing() -> None:
    assert map_input(xbox(), pad(held=(ESTOP, REC_START)), None).actions == ()


def test_estop_comes_first() -> None:
    both = pad(pressed=(REC_START, ESTOP))
    assert map_input(xbox(), both, pad()).actions == (Action.ESTOP, Action.RECORD_START)


def test_reset_needs_the_deadman_held() -> None:
    mapping = xbox()
    assert map_input(mapping, pad(pressed=(RESET,)), pad()).actions == ()
    combo = pad(held=(DEADMAN,), pressed=(RESET,))
    assert map_input(mapping, combo, pad(held=(DEADMAN,))).actions == (Action.RESET,)
    loose = xbox(dataclasses.replace(LINEAR_FEEL, reset_needs_deadman=False))
    assert map_input(loose, pad(pressed=(RESET,)), pad()).actions == (Action.RESET,)


def test_unbound_button_never_fires() -> None:
    buttons = {**XBOX.buttons, "record_discard": -1}
    mapping = GamepadMapping("custom", XBOX.axes, buttons, LINEAR_FEEL)
    everything = pad(pressed=tuple(range(11)))
    assert Action.RECORD_DISCARD not in map_input(mapping, everything, pad()).actions


# -- config checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [("deadzone", 0.95), ("expo", -0.1), ("max_linear_mps", 0.0), ("slow_scale", float("nan"))],
)
def test_bad_feel_names_the_key(field: str, value: float) -> None:
    with pytest.raises(MappingError, match=f"feel.{field}"):
        Feel(**{field: value})


def test_mapping_needs_a_deadman() -> None:
    with pytest.raises(MappingError, match=r"buttons\.deadman"):
        GamepadMapping("x", XBOX.axes, {**XBOX.buttons, "deadman": -1})


# -- layouts ----------------------------------------------------------------------------------


def test_every_layout_binds_every_role_and_the_same_labels() -> None:
    for layout in LAYOUTS.values():
        GamepadMapping(layout.name, layout.axes, layout.buttons)  # complete and valid
        assert set(layout.labels) == set(layout.axes) | set(layout.buttons)
    assert XBOX.labels["deadman"] == "LB" and PLAYSTATION.labels["deadman"] == "L1"


@pytest.mark.parametrize(
    "name, guid, buttons, hats, expected",
    [
        ("Xbox 360 Controller", "030000005e0400008e02000014010000", 11, 1, "xbox"),
        ("Xbox Series X Controller", "050000005e040000130b000000000000", 16, 0, "xbox-sdl"),
        ("PS4 Controller", "030000004c050000cc09000000006800", 16, 0, "playstation"),
        ("Sony Interactive Entertainment Wireless Controller", "", 13, 1, "playstation-linux"),
        ("DualSense Wireless Controller", "not-a-guid", 17, 0, "playstation"),
        ("Generic USB Gamepad", "03000000790000000600000010010000", 12, 1, "xbox"),
    ],
)
def test_detect_layout(name: str, guid: str, buttons: int, hats: int, expected: str) -> None:
    layout, reason = detect_layout(name, guid, buttons, hats)
    assert layout.name == expected, reason
    assert reason


def test_guid_vendor() -> None:
    assert guid_vendor("030000004c050000cc09000011810000") == 0x054C
    assert guid_vendor("ff0013db5669727475616c2043007601") is None  # name hash, no vendor
    assert guid_vendor("short") is None
