"""The gamepad client: poll the pad, map it, gate it, and drive a teleop server.

One asyncio loop does everything, ``poll_hz`` times a second (100 by default):

1. ``Pad.poll()`` handles pygame's joystick events and gives a snapshot;
2. ``map_input`` turns it into an intent: velocity, gripper, deadman and presses;
3. presses become requests (record, e-stop) that run beside the loop, so a slow
   answer never stalls the command stream; the e-stop goes out at once;
4. the :class:`DriveGate` decides what to send: ``ee_velocity`` at ``send_hz`` while
   the deadman is held, one stop command when it is released, nothing otherwise;
5. the contact force in the newest ``state`` sets the rumble.

When the connection drops or the lease is lost, the loop keeps polling the pad and
connects again with exponential backoff (:mod:`teleop.clients.link`, shared with the
leader client). Each connection starts with a new client (its ``seq`` restarts) and a
locked gate, so nothing from before the drop is ever sent, and the deadman must be
released and pressed again. A refused token (``unauthorized``, ``forbidden``) ends
:meth:`GamepadApp.run` with the ClientError, since retrying cannot fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from teleop.client import ClientError, TeleopClient
from teleop.clients.gamepad.config import AppConfig, ClientFactory
from teleop.clients.gamepad.feedback import contact_force_n, rumble_strength
from teleop.clients.gamepad.gate import Drive, DriveGate
from teleop.clients.gamepad.mapfile import Overrides
from teleop.clients.gamepad.mapping import Action, GamepadMapping, Intent, PadInput, map_input
from teleop.clients.gamepad.status import Status
from teleop.clients.link import Link, LinkedApp, check_session, estop_latched, make_client
from teleop.protocol import ErrorReply

StatusCallback = Callable[[Status], None]

if TYPE_CHECKING:  # the app only calls the pad; importing device loads pygame
    from teleop.clients.gamepad.device import Pad, PadInfo

log = logging.getLogger(__name__)


class _Mapper:
    """Applies the mapping of whichever pad is attached, remembering its last snapshot."""

    def __init__(self, overrides: Overrides) -> None:
        self._overrides = overrides
        self._mapping: GamepadMapping | None = None
        self._previous: PadInput | None = None

    @property
    def layout(self) -> str | None:
        return self._mapping.layout if self._mapping else None

    def update(self, pad: PadInput | None, info: PadInfo | None) -> Intent | None:
        if pad is None or info is None:
            self._previous = None
            return None
        if self._previous is None or self._previous.device_id != pad.device_id:
            self._mapping = self._overrides.apply(info.layout)
            self._previous = None
            _warn_missing_controls(self._mapping, info)
        assert self._mapping is not None
        intent = map_input(self._mapping, pad, self._previous)
        self._previous = pad
        return intent


def _warn_missing_controls(mapping: GamepadMapping, info: PadInfo) -> None:
    for role, binding in mapping.axes.items():
        if binding.axis >= info.num_axes:
            log.warning(
                "%s is bound to axis %d; %r has %d", role, binding.axis, info.name, info.num_axes
            )
    for role, button in mapping.buttons.items():
        if button >= info.num_buttons:
            log.warning(
                "%s is bound to button %d; %r has %d", role, button, info.name, info.num_buttons
            )


class GamepadApp(LinkedApp[AppConfig, Status]):
    """Drives one teleop server from one gamepad until cancelled.

    Args:
        config: Settings.
        pad: An open :class:`Pad`.
        on_status: Called with the newest :class:`Status`, ``status_hz`` times a second.
        client_factory: Makes a client per connection (tests may wrap it).
    """

    def __init__(
        self,
        config: AppConfig,
        pad: Pad,
        on_status: StatusCallback | None = None,
        client_factory: ClientFactory = make_client,
    ) -> None:
        super().__init__(config, Status(), on_status, client_factory)
        self._pad = pad
        self._mapper = _Mapper(config.overrides)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_error: ErrorReply | None = None

    async def run(self) -> None:
        """Connect, drive, and reconnect whenever the connection is lost.

        Raises:
            ClientError: The server refused this client's token.
        """
        await self._reconnect_forever()

    # -- one connection ------------------------------------------------------------------

    async def _session(self) -> None:
        """Connect, take the lease and drive; returns only by raising ClientError."""
        client = self._new_client()
        try:
            await client.connect()
            await client.request_lease()
            self._got_lease(client)
            self._last_error = client.errors[-1] if client.errors else None
            requests: asyncio.Queue[Action] = asyncio.Queue()
            self._spawn(self._serve_requests(client, requests))
            await self._drive(client, DriveGate(1.0 / self.config.send_hz), requests)
        finally:
            await self._cancel_tasks()
            self._pad.rumble(0.0, 0.0)
            await client.close()

    async def _drive(
        self, client: TeleopClient, gate: DriveGate, requests: asyncio.Queue[Action]
    ) -> None:
        loop = asyncio.get_running_loop()
        period_s = 1.0 / self.config.poll_hz
        deadline = loop.time()
        while True:
            check_session(client)
            now = loop.time()
            intent = self._mapper.update(self._pad.poll(), self._pad.info)
            for action in intent.actions if intent else ():
                self._request(client, gate, action, requests)
            send = gate.step(now, intent, allowed=not estop_latched(client))
            if send is not None:
                await client.send_velocity(
                    send.linear, send.angular, send.gripper, deadman=send.deadman
                )
            force_n = contact_force_n(client.state)
            self._pad.rumble(rumble_strength(force_n, self.config.overrides.rumble), now)
            self._watch_errors(client)
            self._publisher.publish(self._connected_status(client, gate.state, force_n), now)
            deadline = await _sleep_until(loop, deadline + period_s, period_s)

    def _request(
        self,
        client: TeleopClient,
        gate: DriveGate,
        action: Action,
        requests: asyncio.Queue[Action],
    ) -> None:
        """Start a button's request; the e-stop jumps the queue and stops driving."""
        if action is Action.ESTOP:
            gate.lock()
            self._spawn(self._perform(client, action))
        else:
            requests.put_nowait(action)

    async def _serve_requests(self, client: TeleopClient, requests: asyncio.Queue[Action]) -> None:
        """Carry out requests one at a time, so their answers are not mixed up."""
        while True:
            await self._perform(client, await requests.get())

    async def _perform(self, client: TeleopClient, action: Action) -> None:
        try:
            note = await self._ask(client, action)
        except ClientError as exc:
            self._note = f"{action.value} refused: {exc.message}"
            log.warning("%s refused: %s", action.value, exc)
            return
        self._note = note
        log.info("%s", note)

    async def _ask(self, client: TeleopClient, action: Action) -> str:
        match action:
            case Action.ESTOP:
                await client.estop()
                return "e-stop triggered"
            case Action.RESET:
                await client.reset_estop()
                return "e-stop reset"
            case Action.RECORD_START:
                if not self.config.task:
                    log.warning("recording without a task description; pass --task")
                await client.record_start(self.config.task)
                return f"recording {self.config.task!r}"
            case Action.RECORD_STOP | Action.RECORD_FAIL:
                success = action is Action.RECORD_STOP
                await client.record_stop(success=success)
                return f"episode saved ({'success' if success else 'failure'})"
            case Action.RECORD_DISCARD:
                await client.record_discard()
                return "episode discarded"

    # -- between connections ------------------------------------------------------------

    async def _offline(self, reason: str, wait_s: float) -> None:
        """Keep the pad polled (and still) for ``wait_s`` [s] while disconnected."""
        self._note = reason
        loop = asyncio.get_running_loop()
        period_s = 1.0 / self.config.poll_hz
        end = loop.time() + wait_s
        while (left := end - loop.time()) > 0.0:
            intent = self._mapper.update(self._pad.poll(), self._pad.info)
            for action in intent.actions if intent else ():
                self._note = f"{action.value} not sent: not connected"
                log.warning("%s not sent: not connected", action.value)
            self._pad.rumble(0.0, loop.time())
            info = self._pad.info
            status = Status(
                Link.RETRYING,
                pad=info.name if info else None,
                layout=self._mapper.layout,
                retry_in_s=left,
                note=self._note,
            )
            self._publisher.publish(status, loop.time())
            await asyncio.sleep(min(left, period_s))

    # -- helpers -------------------------------------------------------------------------

    def _connected_status(self, client: TeleopClient, drive: Drive, force_n: float) -> Status:
        state = client.state
        info = self._pad.info
        recording = state.recording if state else None
        return Status(
            Link.CONNECTED,
            pad=info.name if info else None,
            layout=self._mapper.layout,
            lease=client.has_lease,
            drive=drive,
            force_n=force_n,
            estop=estop_latched(client),
            recording=recording.active if recording else False,
            episode=recording.episode_index if recording else None,
            elapsed_s=recording.elapsed_s if recording else 0.0,
            note=self._note,
        )

    def _watch_errors(self, client: TeleopClient) -> None:
        """Show the newest error the server sent, once."""
        if not client.errors or client.errors[-1] is self._last_error:
            return
        error = client.errors[-1]
        self._last_error = error
        self._note = f"server: {error.code}: {error.message}"
        log.warning("server error %s: %s", error.code, error.message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float, period_s: float) -> float:
    """Sleep until ``deadline`` [s, loop time]; after a stall, restart the cadence."""
    now = loop.time()
    if deadline < now - period_s:
        deadline = now
    await asyncio.sleep(max(0.0, deadline - now))
    return deadline
