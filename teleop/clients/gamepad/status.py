"""What the gamepad client shows the operator: a :class:`Status` and its one-line form."""

from __future__ import annotations

import dataclasses

from teleop.clients.gamepad.gate import Drive
from teleop.clients.link import Link, status_line

__all__ = ["Link", "Status", "format_status"]


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of the client for the status line.

    Args:
        link: The connection state.
        pad: The pad's name, or None when no pad is attached.
        layout: The layout in use for that pad.
        lease: Whether this client holds the lease.
        drive: The deadman gate's state.
        force_n: Contact force fed back as rumble, in [N].
        estop: Whether the station's e-stop is latched.
        recording: Whether an episode is being recorded.
        episode: Its index in the dataset.
        elapsed_s: Its length so far, in [s].
        retry_in_s: Time to the next connection attempt in [s], while retrying.
        note: The latest notable event, e.g. a refusal from the server.
    """

    link: Link = Link.CONNECTING
    pad: str | None = None
    layout: str | None = None
    lease: bool = False
    drive: Drive = Drive.LOCKED
    force_n: float = 0.0
    estop: bool = False
    recording: bool = False
    episode: int | None = None
    elapsed_s: float = 0.0
    retry_in_s: float | None = None
    note: str = ""


_DRIVE_WORDS = {
    Drive.LOCKED: "release deadman",
    Drive.IDLE: "idle",
    Drive.DRIVING: "DRIVING",
}


def format_status(status: Status) -> str:
    """The status as one short line, e.g. for a terminal that rewrites it in place."""
    parts = []
    if status.pad is None:
        parts.append("pad: none (plug one in)")
    else:
        parts.append(f"pad: {status.pad} [{status.layout}]")
    if status.link is Link.CONNECTED:
        parts.append("lease: yes" if status.lease else "lease: no")
        if status.pad is not None:
            parts.append(_DRIVE_WORDS[status.drive])
        parts.append(f"force {status.force_n:4.1f} N")
        parts.append(_recording_text(status))
        if status.estop:
            parts.append("E-STOP LATCHED")
    return status_line(status.link, status.retry_in_s, parts, status.note)


def _recording_text(status: Status) -> str:
    if not status.recording:
        return "rec: off"
    episode = "?" if status.episode is None else str(status.episode)
    return f"REC ep {episode} {status.elapsed_s:5.1f} s"
