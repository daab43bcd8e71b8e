"""What the leader client shows the operator: a :class:`Status` and its one-line form."""

from __future__ import annotations

import dataclasses

from teleop.clients.leader.engage import Phase
from teleop.clients.link import Link, status_line

__all__ = ["Link", "Status", "format_status"]


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """A snapshot of the client for the status line.

    Args:
        link: The connection state.
        phase: Where the leader stands with the follower.
        mismatch: While not engaged: which joint is off, by how much, and what to do.
        leader_fault: The leader bus's fault, or None while it reads cleanly.
        lease: Whether this client holds the lease.
        estop: Whether the station's e-stop is latched.
        load_nm: The follower's arm joint loads (``state.tau`` without the gripper), [N·m].
        grasp_n: The follower's grasp force (``state.grasp_force``), [N].
        push_pct: With ``--feedback``: the leader gripper's torque limit now, [% of stall].
        rate_hz: Achieved read-and-send rate, [Hz].
        sent: Commands sent on this connection.
        retry_in_s: Time to the next connection attempt in [s], while retrying.
        note: The latest notable event, e.g. a refusal from the server.
    """

    link: Link = Link.CONNECTING
    phase: Phase = Phase.WAITING
    mismatch: str = ""
    leader_fault: str | None = None
    lease: bool = False
    estop: bool = False
    load_nm: tuple[float, ...] = ()
    grasp_n: float = 0.0
    push_pct: float | None = None
    rate_hz: float = 0.0
    sent: int = 0
    retry_in_s: float | None = None
    note: str = ""


def format_status(status: Status) -> str:
    """The status as one compact line, e.g. for a terminal that rewrites it in place."""
    parts = []
    if status.leader_fault is not None:
        parts.append(f"LEADER BUS FAULT, not sending: {status.leader_fault}")
    if status.link is Link.CONNECTED:
        parts.append(_phase_text(status))
        parts.append(f"{status.rate_hz:3.0f} Hz")
        if status.load_nm:
            parts.append("load " + " ".join(f"{v:+.1f}" for v in status.load_nm) + " N·m")
        parts.append(f"grasp {status.grasp_n:4.1f} N")
        if status.push_pct is not None:
            parts.append(f"push {status.push_pct:4.1f} %")
        if not status.lease:
            parts.append("no lease")
        if status.estop:
            parts.append("E-STOP LATCHED (type 'reset' + Enter to release)")
    return status_line(status.link, status.retry_in_s, parts, status.note)


def _phase_text(status: Status) -> str:
    if status.phase is Phase.MISMATCH:
        return f"NOT ENGAGED: {status.mismatch}"
    if status.phase is Phase.WAITING:
        return "waiting"
    return status.phase.value.upper()
