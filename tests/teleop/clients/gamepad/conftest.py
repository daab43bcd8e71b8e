"""Headless pygame for the gamepad tests: fake joysticks and synthetic SDL events.

pygame cannot open a real joystick without hardware, so tests post the events SDL
would post (``JOYDEVICEADDED``, ``JOYAXISMOTION``, ...) with ``pygame.event.post`` and
let the :class:`Pad` open a :class:`FakeJoystick` for the one-off state read.
"""

from __future__ import annotations

import os

# Before pygame is imported anywhere: no window, no sound card.
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ["PYGAME_HIDE_SUPPORT_PROMPT"] = "1"

from collections.abc import Iterator

import pygame
import pytest

from teleop.clients.gamepad.device import Pad

XBOX_GUID = "030000005e0400008e02000014010000"  # USB, Microsoft, Xbox 360 pad
SONY_GUID = "030000004c050000cc09000011810000"  # USB, Sony, DualShock 4


class FakeJoystick:
    """A joystick whose state a test sets; it records the rumble asked of it.

    Args:
        instance_id: SDL's id for this attachment.
        name: As SDL would report it.
        guid: SDL GUID string.
        axes: Number of axes; triggers (2 and 5) rest at -1 like SDL's.
        buttons: Number of buttons.
        hats: Number of hats.
        can_rumble: Whether ``rumble`` succeeds.
    """

    def __init__(
        self,
        instance_id: int = 0,
        name: str = "Xbox 360 Controller",
        guid: str = XBOX_GUID,
        axes: int = 6,
        buttons: int = 11,
        hats: int = 1,
        can_rumble: bool = True,
    ) -> None:
        self.instance_id = instance_id
        self.name = name
        self.guid = guid
        self.axes = [-1.0 if i in (2, 5) else 0.0 for i in range(axes)]
        self.buttons = [False] * buttons
        self.hats = hats
        self.can_rumble = can_rumble
        self.rumbles: list[tuple[float, float, int]] = []
        self.stops = 0
        self.closed = False

    def get_instance_id(self) -> int:
        return self.instance_id

    def get_name(self) -> str:
        return self.name

    def get_guid(self) -> str:
        return self.guid

    def get_numaxes(self) -> int:
        return len(self.axes)

    def get_numbuttons(self) -> int:
        return len(self.buttons)

    def get_numhats(self) -> int:
        return self.hats

    def get_axis(self, axis: int) -> float:
        return self.axes[axis]

    def get_button(self, button: int) -> bool:
        return self.buttons[button]

    def rumble(self, low_frequency: float, high_frequency: float, duration: int) -> bool:
        if not self.can_rumble:
            return False
        self.rumbles.append((low_frequency, high_frequency, duration))
        return True

    def stop_rumble(self) -> None:
        self.stops += 1

    def quit(self) -> None:
        self.closed = True


class PadDriver:
    """Plays SDL: keeps each fake joystick's state and posts the matching events."""

    def __init__(self) -> None:
        self.joysticks: dict[int, FakeJoystick] = {}

    def joystick(self, **kwargs: object) -> FakeJoystick:
        """A new fake pad (see :class:`FakeJoystick` for the arguments)."""
        return FakeJoystick(**kwargs)  # type: ignore[arg-type]

    def open(self, device_index: int) -> FakeJoystick:
        return self.joysticks[device_index]

    def plug(self, joystick: FakeJoystick, device_index: int = 0) -> None:
        self.joysticks[device_index] = joystick
        joystick.closed = False
        _post(pygame.JOYDEVICEADDED, device_index=device_index, guid=joystick.guid)

    def unplug(self, joystick: FakeJoystick) -> None:
        _post(pygame.JOYDEVICEREMOVED, instance_id=joystick.instance_id)

    def axis(self, joystick: FakeJoystick, axis: int, value: float) -> None:
        joystick.axes[axis] = value
        _post(
            pygame.JOYAXISMOTION,
            instance_id=joystick.instance_id,
            joy=joystick.instance_id,
            axis=axis,
            value=value,
        )

    def press(self, joystick: FakeJoystick, button: int) -> None:
        joystick.buttons[button] = True
        _post(pygame.JOYBUTTONDOWN, instance_id=joystick.instance_id, button=button)

    def release(self, joystick: FakeJoystick, button: int) -> None:
        joystick.buttons[button] = False
        _post(pygame.JOYBUTTONUP, instance_id=joystick.instance_id, button=button)


def _post(event_type: int, **fields: object) -> None:
    pygame.event.post(pygame.event.Event(event_type, **fields))


@pytest.fixture
def driver() -> Iterator[PadDriver]:
    pygame.display.init()
    pygame.event.clear()
    yield PadDriver()
    pygame.event.clear()


@pytest.fixture
def pad(driver: PadDriver) -> Iterator[Pad]:
    with Pad(driver.open) as started:
        yield started
