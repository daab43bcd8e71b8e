"""What the session hands back to the server: effects to carry out, and messages.

Every :class:`~teleop.session.ServerSession` method returns one :class:`Outcome`. The server sends
``replies`` to ``Outcome.client_id``, ``broadcast`` to every other client that said
``hello``, and carries out ``effects`` in order, typically with a ``match`` over the
effect types below. None of these hold a raw token.
"""

from __future__ import annotations

import dataclasses
from enum import Enum

from teleop.protocol import Command, Role, ServerMessage


class ClientPhase(Enum):
    """Where one connection stands."""

    AWAITING_HELLO = "awaiting_hello"
    READY = "ready"
    CLOSING = "closing"  # a Disconnect effect was issued; further frames are ignored


@dataclasses.dataclass(frozen=True)
class ApplyCommand:
    """Put ``command`` in the control loop's mailbox. ``received_ns`` feeds the watchdog."""

    client_id: int
    command: Command
    received_ns: int


@dataclasses.dataclass(frozen=True)
class LeaseChanged:
    """The lease moved: clear the mailbox so no command of the old holder lingers."""

    holder: int | None
    previous: int | None


@dataclasses.dataclass(frozen=True)
class StartRecording:
    """Start an episode; on failure call ``ServerSession.recording_failed``."""

    client_id: int
    task: str
    operator: str  # Identity.principal, never a raw token
    operator_name: str


@dataclasses.dataclass(frozen=True)
class StopRecording:
    """Finish the episode. ``reason`` is ``"operator"`` or ``"lease_lost"``."""

    success: bool | None
    reason: str


@dataclasses.dataclass(frozen=True)
class DiscardRecording:
    """Throw the episode in progress away."""


@dataclasses.dataclass(frozen=True)
class TriggerEstop:
    """Latch the e-stop in the control loop; ``client_id`` None means the server did."""

    client_id: int | None
    reason: str


@dataclasses.dataclass(frozen=True)
class ResetEstop:
    """Release the e-stop latch in the control loop."""

    client_id: int


@dataclasses.dataclass(frozen=True)
class Disconnect:
    """Close this client's websocket with ``code`` and ``reason``, then call
    ``ServerSession.disconnect``."""

    client_id: int
    code: int
    reason: str


@dataclasses.dataclass(frozen=True)
class ClientInfo:
    """A snapshot of one client, e.g. for the contribution ledger when it leaves.

    Attributes:
        lease_held_s: Total time this client held the operator lease, in [s].
    """

    client_id: int
    name: str
    role: Role | None
    principal: str
    is_admin: bool
    connected_ns: int
    phase: ClientPhase
    lease_held_s: float


@dataclasses.dataclass(frozen=True)
class ClientLeft:
    """A client is gone; ``info`` has its final lease time, for the ledger."""

    info: ClientInfo


Effect = (
    ApplyCommand
    | LeaseChanged
    | StartRecording
    | StopRecording
    | DiscardRecording
    | TriggerEstop
    | ResetEstop
    | Disconnect
    | ClientLeft
)


@dataclasses.dataclass
class Outcome:
    """What the server must do after one call into the session.

    Attributes:
        client_id: Who ``replies`` go to: the client that spoke, or None when nobody
            spoke (a disconnect, ``poll``, a server-side e-stop).
        replies: Messages for ``client_id``, in order, in its framing.
        broadcast: Messages for every client in ``ServerSession.ready_clients()`` except
            ``client_id``.
        effects: Things to do, in order.
    """

    client_id: int | None
    replies: list[ServerMessage] = dataclasses.field(default_factory=list)
    broadcast: list[ServerMessage] = dataclasses.field(default_factory=list)
    effects: list[Effect] = dataclasses.field(default_factory=list)
