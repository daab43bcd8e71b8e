"""The pygame (SDL) plumbing: joystick events in, :class:`PadInput` snapshots out, rumble.

The pad's state is built from pygame's joystick events alone (``JOYDEVICEADDED``,
``JOYDEVICEREMOVED``, ``JOYAXISMOTION``, ``JOYBUTTONDOWN``/``UP``); the joystick
object is only read once, when the pad appears, to seed that state. So the same code
path runs for a real pad and for a test that posts synthetic events with
``pygame.event.post`` and opens a fake joystick through ``open_joystick``.

Only one pad drives at a time: the first one plugged in. When it is unplugged, the
next attached pad (if any) takes over, and the app sees a new ``device_id``.

pygame must be used from one thread; the app polls from its event-loop thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Any, Protocol

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame

from teleop.clients.device import InputDevice
from teleop.clients.gamepad.errors import PadError
from teleop.clients.gamepad.layouts import Layout, detect_layout
from teleop.clients.gamepad.mapping import PadInput

log = logging.getLogger(__name__)

RUMBLE_PULSE_MS = 250
"""Each rumble call lasts this long [ms]; it is renewed while the force lasts."""
RUMBLE_REFRESH_S = 0.1
"""Renew the rumble at least this often [s] (well inside ``RUMBLE_PULSE_MS``)."""
RUMBLE_STEP = 0.02
"""A change in strength smaller than this waits for the next refresh."""


class JoystickLike(Protocol):
    """The part of ``pygame.joystick.JoystickType`` this module uses."""

    def get_instance_id(self) -> int: ...
    def get_name(self) -> str: ...
    def get_guid(self) -> str: ...
    def get_numaxes(self) -> int: ...
    def get_numbuttons(self) -> int: ...
    def get_numhats(self) -> int: ...
    def get_axis(self, axis: int) -> float: ...
    def get_button(self, button: int) -> bool: ...
    def rumble(self, low_frequency: float, high_frequency: float, duration: int) -> bool: ...
    def stop_rumble(self) -> None: ...
    def quit(self) -> None: ...


OpenJoystick = Callable[[int], JoystickLike]
"""Opens the joystick at an SDL device index (``JOYDEVICEADDED.device_index``)."""


def open_pygame_joystick(device_index: int) -> JoystickLike:
    joystick: JoystickLike = pygame.joystick.Joystick(device_index)
    return joystick


@dataclasses.dataclass(frozen=True, slots=True)
class PadInfo:
    """What is known about an attached pad."""

    instance_id: int
    name: str
    guid: str
    num_axes: int
    num_buttons: int
    num_hats: int
    layout: Layout
    """The detected layout (a mapping file may force another)."""
    layout_reason: str


class _Attached:
    """One open joystick and the state its events have built."""

    def __init__(self, joystick: JoystickLike) -> None:
        self.joystick = joystick
        n_buttons = joystick.get_numbuttons()
        n_hats = joystick.get_numhats()
        name = joystick.get_name()
        guid = joystick.get_guid()
        layout, reason = detect_layout(name, guid, n_buttons, n_hats)
        self.info = PadInfo(
            joystick.get_instance_id(),
            name,
            guid,
            joystick.get_numaxes(),
            n_buttons,
            n_hats,
            layout,
            reason,
        )
        self.axes = [float(joystick.get_axis(i)) for i in range(self.info.num_axes)]
        self.buttons = [bool(joystick.get_button(i)) for i in range(n_buttons)]
        self.pressed: set[int] = set()
        self.can_rumble = True
        self.device_id = 0

    def snapshot(self) -> PadInput:
        pressed = frozenset(self.pressed)
        self.pressed.clear()
        return PadInput(tuple(self.axes), tuple(self.buttons), pressed, self.device_id)


class Pad(InputDevice):
    """The operator's gamepad, through pygame. Use as a context manager.

    Args:
        open_joystick: Opens a joystick by device index; tests pass a fake.
    """

    def __init__(self, open_joystick: OpenJoystick = open_pygame_joystick) -> None:
        self._open = open_joystick
        self._attached: dict[int, _Attached] = {}
        self._active: _Attached | None = None
        self._rumble_level = 0.0
        self._rumble_at_s = float("-inf")
        self._attachments = 0

    # -- lifecycle -----------------------------------------------------------------------

    def open(self) -> None:
        """Start pygame's event queue and joystick support (no window is opened).

        Raises:
            PadError: SDL could not start.
        """
        # No window: events must flow even though this process never has focus.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_JOYSTICK_ALLOW_BACKGROUND_EVENTS", "1")
        # Ctrl-C belongs to the asyncio loop, not to SDL's quit event.
        os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
        try:
            pygame.display.init()
            pygame.joystick.init()
        except pygame.error as exc:
            raise PadError(f"cannot start SDL joystick support: {exc}") from exc

    def close(self) -> None:
        """Stop any rumble and close every joystick."""
        for attached in self._attached.values():
            _quietly(attached.joystick.stop_rumble)
            _quietly(attached.joystick.quit)
        self._attached.clear()
        self._active = None

    # -- input ---------------------------------------------------------------------------

    @property
    def info(self) -> PadInfo | None:
        """The pad in use, or None."""
        return self._active.info if self._active else None

    def poll(self) -> PadInput | None:
        """Handle every pending pygame event; the pad's newest snapshot, or None."""
        for event in pygame.event.get():
            self.handle(event)
        return self._active.snapshot() if self._active else None

    def handle(self, event: Any) -> None:
        """Apply one pygame event (others than joystick events are ignored)."""
        if event.type == pygame.JOYDEVICEADDED:
            self._added(event.device_index)
        elif event.type == pygame.JOYDEVICEREMOVED:
            self._removed(event.instance_id)
        elif event.type in (pygame.JOYAXISMOTION, pygame.JOYBUTTONDOWN, pygame.JOYBUTTONUP):
            attached = self._attached.get(event.instance_id)
            if attached is not None:
                _apply(attached, event)

    def _added(self, device_index: int) -> None:
        try:
            attached = _Attached(self._open(device_index))
        except pygame.error as exc:
            log.warning("cannot open gamepad %d: %s", device_index, exc)
            return
        info = attached.info
        if info.instance_id in self._attached:
            return  # SDL announces pads present at start-up; this one is known
        self._attached[info.instance_id] = attached
        if self._active is not None:
            log.info("gamepad %r ignored: %r is in use", info.name, self._active.info.name)
            return
        self._activate(attached)

    def _activate(self, attached: _Attached) -> None:
        self._attachments += 1
        attached.device_id = self._attachments
        attached.pressed.clear()  # presses before it drives do not count
        self._active = attached
        self._rumble_level = 0.0
        info = attached.info
        log.info(
            "gamepad %r connected (%d axes, %d buttons); layout %s (%s)",
            info.name,
            info.num_axes,
            info.num_buttons,
            info.layout.name,
            info.layout_reason,
        )

    def _removed(self, instance_id: int) -> None:
        attached = self._attached.pop(instance_id, None)
        if attached is None:
            return
        _quietly(attached.joystick.quit)
        if attached is not self._active:
            return
        self._active = None
        log.warning("gamepad %r unplugged: commands stopped", attached.info.name)
        if self._attached:
            self._activate(next(iter(self._attached.values())))

    # -- feedback ------------------------------------------------------------------------

    def rumble(self, strength: float, now_s: float) -> None:
        """Rumble both motors at ``strength`` in [0, 1]; 0 stops. Cheap to call often.

        Args:
            strength: The rumble strength in [0, 1].
            now_s: A monotonic time in [s], to pace the calls into SDL.
        """
        active = self._active
        if active is None or not active.can_rumble:
            return
        if strength <= 0.0:
            if self._rumble_level > 0.0:
                _quietly(active.joystick.stop_rumble)
                self._rumble_level = 0.0
            return
        changed = abs(strength - self._rumble_level) >= RUMBLE_STEP
        if not changed and now_s - self._rumble_at_s < RUMBLE_REFRESH_S:
            return
        if not active.joystick.rumble(strength, strength, RUMBLE_PULSE_MS):
            active.can_rumble = False
            log.info("gamepad %r cannot rumble: no force feedback", active.info.name)
            return
        self._rumble_level = strength
        self._rumble_at_s = now_s


def _apply(attached: _Attached, event: Any) -> None:
    if event.type == pygame.JOYAXISMOTION:
        if 0 <= event.axis < len(attached.axes):
            attached.axes[event.axis] = float(event.value)
        return
    down = event.type == pygame.JOYBUTTONDOWN
    if 0 <= event.button < len(attached.buttons):
        attached.buttons[event.button] = down
        if down:
            attached.pressed.add(event.button)
        log.debug("button %d %s", event.button, "down" if down else "up")


def _quietly(call: Callable[[], object]) -> None:
    """Call an SDL cleanup function whose failure changes nothing (pad already gone)."""
    try:
        call()
    except pygame.error as exc:
        log.debug("ignored during gamepad cleanup: %s", exc)
