"""The pygame plumbing, headless: synthetic SDL events through ``pygame.event.post``.

The last test drives a real SDL virtual joystick (SDL's C API through ctypes, since
pygame does not expose it) to check that pygame's own events take the same path.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from typing import Any

import pygame
import pytest

from teleop.clients.gamepad.device import RUMBLE_PULSE_MS, Pad

SONY_GUID = "030000004c050000cc09000011810000"


def test_plugging_a_pad_seeds_its_state_and_detects_the_layout(driver: Any, pad: Pad) -> None:
    assert pad.poll() is None and pad.info is None
    stick = driver.joystick()
    stick.axes[1] = -0.5
    stick.buttons[4] = True
    driver.plug(stick)
    snapshot = pad.poll()
    assert snapshot is not None
    assert snapshot.axes[1] == -0.5 and snapshot.axes[5] == -1.0
    assert snapshot.buttons[4] and snapshot.pressed == frozenset()  # held, not pressed
    assert pad.info is not None and pad.info.layout.name == "xbox"


def test_axis_and_button_events_update_the_snapshot(driver: Any, pad: Pad) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    pad.poll()
    driver.axis(stick, 0, 0.75)
    driver.press(stick, 0)
    snapshot = pad.poll()
    assert snapshot is not None
    assert snapshot.axes[0] == 0.75
    assert snapshot.buttons[0] and snapshot.pressed == {0}
    again = pad.poll()
    assert again is not None and again.buttons[0] and again.pressed == frozenset()
    driver.release(stick, 0)
    released = pad.poll()
    assert released is not None and not released.buttons[0]


def test_a_tap_between_two_polls_is_kept(driver: Any, pad: Pad) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    pad.poll()
    driver.press(stick, 6)
    driver.release(stick, 6)
    snapshot = pad.poll()
    assert snapshot is not None and not snapshot.buttons[6] and snapshot.pressed == {6}


def test_unplugging_drops_the_pad_and_plugging_back_gives_a_new_device(
    driver: Any, pad: Pad
) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    first = pad.poll()
    driver.unplug(stick)
    assert pad.poll() is None and pad.info is None
    assert stick.closed
    driver.plug(stick)
    second = pad.poll()
    assert first is not None and second is not None
    assert second.device_id != first.device_id


def test_unplug_and_replug_within_one_poll_still_changes_the_device(driver: Any, pad: Pad) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    first = pad.poll()
    driver.unplug(stick)
    driver.plug(stick)
    second = pad.poll()
    assert first is not None and second is not None
    assert second.device_id != first.device_id


def test_second_pad_waits_and_takes_over_when_the_first_goes(driver: Any, pad: Pad) -> None:
    xbox = driver.joystick(instance_id=0)
    ps = driver.joystick(instance_id=1, name="PS4 Controller", guid=SONY_GUID, buttons=16, hats=0)
    driver.plug(xbox, device_index=0)
    driver.plug(ps, device_index=1)
    first = pad.poll()
    assert pad.info is not None and pad.info.name == "Xbox 360 Controller"
    driver.axis(ps, 0, 1.0)  # the idle pad's input does not leak into the active one
    snapshot = pad.poll()
    assert snapshot is not None and snapshot.axes[0] == 0.0
    driver.unplug(xbox)
    taken = pad.poll()
    assert pad.info is not None and pad.info.layout.name == "playstation"
    assert first is not None and taken is not None
    assert taken.device_id != first.device_id and taken.axes[0] == 1.0


def test_foreign_events_and_unknown_pads_are_ignored(driver: Any, pad: Pad) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    pad.poll()
    pygame.event.post(pygame.event.Event(pygame.USEREVENT, code=1))
    pygame.event.post(pygame.event.Event(pygame.JOYAXISMOTION, instance_id=9, axis=0, value=1.0))
    pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, instance_id=0, button=99))
    pygame.event.post(pygame.event.Event(pygame.JOYDEVICEREMOVED, instance_id=9))
    snapshot = pad.poll()
    assert snapshot is not None and snapshot.axes[0] == 0.0 and snapshot.pressed == frozenset()


def test_rumble_is_paced_and_stopped(driver: Any, pad: Pad) -> None:
    stick = driver.joystick()
    driver.plug(stick)
    pad.poll()
    pad.rumble(0.5, now_s=0.0)
    pad.rumble(0.505, now_s=0.01)  # same strength, too soon: no call into SDL
    assert stick.rumbles == [(0.5, 0.5, RUMBLE_PULSE_MS)]
    pad.rumble(0.5, now_s=0.2)  # renewed before the pulse runs out
    pad.rumble(0.9, now_s=0.21)  # a clear change goes out at once
    assert [r[0] for r in stick.rumbles] == [0.5, 0.5, 0.9]
    pad.rumble(0.0, now_s=0.3)
    pad.rumble(0.0, now_s=0.4)
    assert stick.stops == 1


def test_a_pad_without_rumble_is_asked_once(driver: Any, pad: Pad) -> None:
    stick = driver.joystick(can_rumble=False)
    calls = []
    original = stick.rumble

    def counting(low: float, high: float, duration: int) -> bool:
        calls.append(low)
        return bool(original(low, high, duration))

    stick.rumble = counting
    driver.plug(stick)
    pad.poll()
    for k in range(5):
        pad.rumble(0.5 + 0.1 * k, now_s=k)
    assert len(calls) == 1


def test_close_stops_rumble_and_closes_the_joystick(driver: Any) -> None:
    stick = driver.joystick()
    with Pad(driver.open) as pad:
        driver.plug(stick)
        pad.poll()
    assert stick.closed and stick.stops == 1 and pad.info is None


# -- a real SDL virtual joystick --------------------------------------------------------------


@pytest.fixture
def sdl() -> Iterator[ctypes.CDLL]:
    """pygame's own SDL2 library, to attach a virtual joystick (Linux wheels)."""
    libs = os.path.join(os.path.dirname(pygame.__file__), os.pardir, "pygame.libs")
    found = glob.glob(os.path.join(libs, "libSDL2-2*.so*"))
    if not found:
        pytest.fail("pygame's bundled SDL2 library was not found (Linux wheels ship it)")
    library = ctypes.CDLL(found[0])
    if not hasattr(library, "SDL_JoystickAttachVirtual"):
        pytest.fail("SDL is older than 2.0.14: no virtual joysticks; upgrade pygame")
    library.SDL_JoystickFromInstanceID.restype = ctypes.c_void_p
    library.SDL_JoystickSetVirtualAxis.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int16]
    library.SDL_JoystickSetVirtualButton.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8]
    yield library


def test_sdl_virtual_joystick_goes_through_the_same_path(sdl: ctypes.CDLL) -> None:
    game_controller, axes, buttons, hats = 1, 6, 15, 0  # SDL_JOYSTICK_TYPE_GAMECONTROLLER
    pygame.display.init()
    pygame.event.clear()
    with Pad() as pad:
        index = sdl.SDL_JoystickAttachVirtual(game_controller, axes, buttons, hats)
        assert index >= 0
        try:
            assert pad.poll() is not None  # JOYDEVICEADDED, opened with pygame
            assert pad.info is not None and pad.info.layout.name == "xbox-sdl"
            handle = sdl.SDL_JoystickFromInstanceID(pad.info.instance_id)
            sdl.SDL_JoystickSetVirtualAxis(handle, 1, -32768)  # left stick fully up
            sdl.SDL_JoystickSetVirtualButton(handle, 9, 1)  # LB in SDL's order
            snapshot = pad.poll()
            assert snapshot is not None
            assert snapshot.axes[1] == pytest.approx(-1.0, abs=1e-3)
            assert snapshot.buttons[9] and 9 in snapshot.pressed
            pad.rumble(0.5, now_s=0.0)  # a virtual pad cannot rumble: no error
        finally:
            sdl.SDL_JoystickDetachVirtual(index)
        assert pad.poll() is None  # JOYDEVICEREMOVED
