"""Built-in button and axis layouts, as data, and how a pad's layout is recognised.

SDL numbers a pad's axes and buttons differently depending on the pad *and* on the
driver that reads it, so there is one layout per numbering seen in practice:

================== ==============================================================
``xbox``           XInput (Windows) and the Linux ``xpad`` driver: Xbox 360, One,
                   Series, and most third-party pads; the D-pad is a hat.
``xbox-sdl``       Xbox pads read by SDL's own HIDAPI driver (e.g. macOS): SDL's
                   GameController order, the D-pad as buttons, no hat.
``playstation``    DualShock 4 and DualSense read by SDL's HIDAPI driver (the usual
                   case on Windows and macOS): the same order, no hat.
``playstation-linux`` DualShock 4 and DualSense through the Linux kernel driver
                   (``hid-sony`` / ``hid-playstation``); the D-pad is a hat.
================== ==============================================================

Every layout binds the same roles to the same physical controls: left stick = x/y,
right stick = z/yaw, left shoulder = deadman, right shoulder = slow, right trigger =
gripper, face buttons = recording, Back/Share = e-stop, Start/Options = reset.

:func:`detect_layout` picks one from the name, the USB vendor in the SDL GUID, and
whether the D-pad shows up as a hat. ``--layout`` or a ``--mapping`` file overrides it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType

from teleop.clients.gamepad.mapping import AxisBinding

VENDOR_MICROSOFT = 0x045E
VENDOR_SONY = 0x054C


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """One pad numbering.

    Args:
        name: Key in :data:`LAYOUTS`.
        description: Which pads and drivers number their controls this way.
        axes: The axis of each role in ``mapping.AXIS_ROLES``.
        buttons: The button of each role in ``mapping.BUTTON_ROLES``.
        labels: The printed name of the control behind each role, for help and status.
    """

    name: str
    description: str
    axes: Mapping[str, AxisBinding]
    buttons: Mapping[str, int]
    labels: Mapping[str, str]


def _layout(
    name: str,
    description: str,
    sticks: tuple[int, int, int, int],
    trigger: int,
    buttons: dict[str, int],
    labels: dict[str, str],
) -> Layout:
    """Build a layout from (left x, left y, right x, right y) axes, as SDL reports them.

    Pushing a stick up gives a negative SDL value, and to the right a positive one, so
    forward (+x), left (+y), up (+z) and counter-clockwise (+yaw) all invert.
    """
    left_x, left_y, right_x, right_y = sticks
    axes = {
        "x": AxisBinding(left_y, invert=True),
        "y": AxisBinding(left_x, invert=True),
        "z": AxisBinding(right_y, invert=True),
        "yaw": AxisBinding(right_x, invert=True),
        "gripper": AxisBinding(trigger),
    }
    return Layout(
        name,
        description,
        MappingProxyType(axes),
        MappingProxyType(dict(buttons)),
        MappingProxyType(dict(labels)),
    )


_STICK_LABELS = {
    "x": "left stick up/down",
    "y": "left stick left/right",
    "z": "right stick up/down",
    "yaw": "right stick left/right",
}
_XBOX_LABELS = {
    **_STICK_LABELS,
    "gripper": "RT",
    "deadman": "LB",
    "slow": "RB",
    "record_start": "A",
    "record_stop": "B",
    "record_fail": "X",
    "record_discard": "Y",
    "estop": "Back/View",
    "reset": "Start/Menu",
}
_PS_LABELS = {
    **_STICK_LABELS,
    "gripper": "R2",
    "deadman": "L1",
    "slow": "R1",
    "record_start": "Cross",
    "record_stop": "Circle",
    "record_fail": "Square",
    "record_discard": "Triangle",
    "estop": "Share/Create",
    "reset": "Options",
}
# SDL's GameController order (HIDAPI drivers): A/Cross 0, B/Circle 1, X/Square 2,
# Y/Triangle 3, Back/Share 4, Guide 5, Start/Options 6, stick clicks 7-8, LB/L1 9,
# RB/R1 10, D-pad 11-14.
_SDL_BUTTONS = {
    "deadman": 9,
    "slow": 10,
    "record_start": 0,
    "record_stop": 1,
    "record_fail": 2,
    "record_discard": 3,
    "estop": 4,
    "reset": 6,
}
_SDL_STICKS = (0, 1, 2, 3)  # triggers are axes 4 (left) and 5 (right)

XBOX = _layout(
    "xbox",
    "Xbox pads through XInput or Linux xpad (the D-pad is a hat)",
    sticks=(0, 1, 3, 4),  # LT is axis 2
    trigger=5,
    buttons={
        "deadman": 4,
        "slow": 5,
        "record_start": 0,
        "record_stop": 1,
        "record_fail": 2,
        "record_discard": 3,
        "estop": 6,
        "reset": 7,
    },
    labels=_XBOX_LABELS,
)
XBOX_SDL = _layout(
    "xbox-sdl",
    "Xbox pads through SDL's HIDAPI driver (no hat)",
    sticks=_SDL_STICKS,
    trigger=5,
    buttons=_SDL_BUTTONS,
    labels=_XBOX_LABELS,
)
PLAYSTATION = _layout(
    "playstation",
    "DualShock 4 / DualSense through SDL's HIDAPI driver (no hat)",
    sticks=_SDL_STICKS,
    trigger=5,
    buttons=_SDL_BUTTONS,
    labels=_PS_LABELS,
)
PLAYSTATION_LINUX = _layout(
    "playstation-linux",
    "DualShock 4 / DualSense through the Linux kernel driver (the D-pad is a hat)",
    sticks=(0, 1, 3, 4),  # L2 is axis 2
    trigger=5,
    buttons={  # Cross 0, Circle 1, Triangle 2, Square 3, L1 4, R1 5, L2 6, R2 7, ...
        "deadman": 4,
        "slow": 5,
        "record_start": 0,
        "record_stop": 1,
        "record_fail": 3,
        "record_discard": 2,
        "estop": 8,
        "reset": 9,
    },
    labels=_PS_LABELS,
)

LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {lay.name: lay for lay in (XBOX, XBOX_SDL, PLAYSTATION, PLAYSTATION_LINUX)}
)

_SONY_NAME = re.compile(r"ps4|ps5|dualshock|dualsense|playstation|sony", re.IGNORECASE)
_XBOX_NAME = re.compile(r"xbox|x-box|xinput|microsoft", re.IGNORECASE)
_SDL_ORDER_MIN_BUTTONS = 15  # the HIDAPI order has the D-pad as buttons 11-14


def guid_vendor(guid: str) -> int | None:
    """The USB vendor id in an SDL joystick GUID string, or None if it has none.

    SDL GUIDs are 16 little-endian bytes in hex: bus (2 bytes), CRC (2), vendor (2),
    0 (2), product (2), ...; a GUID without a vendor has a name hash there instead.
    """
    if not re.fullmatch(r"[0-9a-fA-F]{32}", guid) or guid[12:16] != "0000":
        return None
    return int(guid[10:12] + guid[8:10], 16)


def detect_layout(name: str, guid: str, num_buttons: int, num_hats: int) -> tuple[Layout, str]:
    """Guess a pad's layout.

    Args:
        name: The pad's name as SDL reports it.
        guid: Its SDL GUID string.
        num_buttons: How many buttons it has.
        num_hats: How many hats it has (the D-pad of pads read by the OS driver).

    Returns:
        The layout and the reason it was chosen, for the log.
    """
    vendor = guid_vendor(guid)
    if vendor == VENDOR_SONY or _SONY_NAME.search(name):
        why = "Sony vendor id" if vendor == VENDOR_SONY else f"name {name!r}"
        if num_hats > 0:
            return PLAYSTATION_LINUX, f"{why}, D-pad is a hat"
        return PLAYSTATION, f"{why}, no hat"
    if vendor == VENDOR_MICROSOFT or _XBOX_NAME.search(name):
        why = "Microsoft vendor id" if vendor == VENDOR_MICROSOFT else f"name {name!r}"
    else:
        why = f"unknown pad {name!r}, assuming Xbox-style"
    if num_hats == 0 and num_buttons >= _SDL_ORDER_MIN_BUTTONS:
        return XBOX_SDL, f"{why}, no hat"
    return XBOX, why
