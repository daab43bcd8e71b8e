"""Joins the session's record effects to the ``Recorder``.

The session decides whether a ``record`` message is allowed; this carries it out, in a
worker thread (saving an episode takes up to a second), and describes the result.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from robots.base import RobotSpec
from teleop.ledger import Ledger, LedgerError
from teleop.protocol import RecordingInfo, RecordStatus
from teleop.quality.signing import StationKey
from teleop.recorder import Recorder, RecorderError, TickSample
from teleop.session import effects as fx
from teleop.station.episode_close import close_episode, unclosed_episodes

log = logging.getLogger(__name__)

DEFAULT_TASK = "teleoperation"
"""The task text of an episode started without one (the protocol makes it optional)."""


@dataclasses.dataclass(frozen=True)
class Accounting:
    """What every saved episode goes through: checks, a signature, the ledger.

    Attributes:
        key: The station key that signs each episode's manifest.
        ledger: The contribution ledger, or None to keep no accounts.
        spec: The robot, whose joint limits the checks use.
    """

    key: StationKey
    ledger: Ledger | None
    spec: RobotSpec


class RecordingLink:
    """The server's handle on its recorder.

    Args:
        recorder: The recorder for this station's dataset, or None if it could not
            be opened.
        unavailable: Why there is no recorder; told to an operator who tries to record.
    """

    def __init__(
        self,
        recorder: Recorder | None,
        unavailable: str = "",
        accounting: Accounting | None = None,
    ) -> None:
        self._recorder = recorder
        self._unavailable = unavailable or "no recorder"
        self.accounting = accounting
        # (principal, name, ledger session) of the episode being recorded
        self._operator: tuple[str, str, int | None] = ("", "", None)
        self._saved: list[tuple[int, str, str, int | None]] = []  # awaiting their checks
        self._sessions: dict[int, int | None] = {}  # client id -> its open ledger session
        self._sessions_lock = threading.Lock()

    @property
    def recorder(self) -> Recorder:
        if self._recorder is None:
            raise RecorderError(f"recording is unavailable: {self._unavailable}")
        return self._recorder

    def on_tick(self, sample: TickSample) -> None:
        """Called by the control loop on every tick; never blocks."""
        if self._recorder is not None:
            self._recorder.on_tick(sample)

    def apply(self, effect: fx.Effect) -> RecordStatus | None:
        """Carry out a record effect; return a status for every client, if any.

        Raises:
            RecorderError: The recorder refused or failed; the session must be told.
        """
        match effect:
            case fx.StartRecording(client_id, task, operator, operator_name):
                index = self.recorder.start(task.strip() or DEFAULT_TASK, operator_name or operator)
                session = self.open_session(client_id, operator, operator_name)
                self._operator = (operator, operator_name, session)
                log.info("episode %d started by %s: %r", index, operator_name or operator, task)
                return None
            case fx.StopRecording(success, reason):
                summary = self.recorder.stop(success)
                text = (
                    f"saved: episode {summary.episode_index}, {summary.length} rows, "
                    f"{summary.duration_s:.1f} s, durable {summary.finalize_s:.2f} s after stop"
                    + ("" if summary.complete else ", incomplete")
                )
                log.info("%s (%s)", text, reason)
                self._saved.append((summary.episode_index, *self._operator))
                return RecordStatus(False, None, summary.task, success, None, text)
            case fx.DiscardRecording():
                self.recorder.discard()
                return None
        return None

    def check_saved(self) -> list[str]:
        """Check, sign and account for the episodes saved since the last call.

        Returns:
            One line per episode for the operator, e.g. "episode 3: score 0.97, accepted".
        """
        lines = []
        while self._saved and self.accounting is not None and self._recorder is not None:
            index, principal, name, session = self._saved.pop(0)
            a = self.accounting
            verdict = close_episode(
                self._recorder.dataset.root, index, key=a.key, ledger=a.ledger,
                contributor=principal, contributor_name=name, session_id=session, spec=a.spec,
            )  # fmt: skip
            lines.append(verdict.summary())
        return lines

    def close_leftovers(self) -> None:
        """Check and sign episodes saved or recovered without it (after a crash)."""
        if self.accounting is None or self._recorder is None:
            return
        root = self._recorder.dataset.root
        for index in unclosed_episodes(root):
            log.info("checking and signing episode %d, left unsigned earlier", index)
            a = self.accounting
            close_episode(root, index, key=a.key, ledger=a.ledger, contributor="unknown",
                          spec=a.spec)  # fmt: skip

    def open_session(self, client_id: int, principal: str, name: str) -> int | None:
        """The ledger session of a client that took the lease, opened on first call.

        Called when a client is granted the lease and again when it starts an episode
        (whichever runs first opens it), so the episode can name its session.

        Returns:
            The session's id, or None without a ledger or when the ledger is unreachable
            (the session is then recorded in one go when the client leaves).
        """
        ledger = self._ledger()
        if ledger is None:
            return None
        with self._sessions_lock:
            if client_id not in self._sessions:
                try:
                    self._sessions[client_id] = ledger.open_session(principal, name)
                except LedgerError as exc:
                    log.error("could not open a ledger session for %s: %s", name, exc)
                    return None
            return self._sessions[client_id]

    def close_session(
        self, client_id: int, principal: str, name: str, lease_s: float, active_s: float
    ) -> None:
        """Close a leaving client's session with its lease-held and active time, in [s].

        A client that never held the lease has no session. One whose session could not
        be opened earlier (the ledger was down) is recorded now, opened and closed at once.

        Raises:
            LedgerError: The ledger cannot be written.
        """
        ledger = self._ledger()
        with self._sessions_lock:
            session = self._sessions.pop(client_id, None)
        if ledger is None:
            return
        if session is not None:
            ledger.close_session(session, lease_held_s=lease_s, active_s=active_s)
        elif lease_s > 0:
            ledger.record_session(principal, name, lease_held_s=lease_s, active_s=active_s)

    def _ledger(self) -> Ledger | None:
        return self.accounting.ledger if self.accounting is not None else None

    def info(self) -> RecordingInfo:
        if self._recorder is None:
            return RecordingInfo()
        status = self._recorder.status
        return RecordingInfo(status.active, status.episode_index, status.elapsed_s, status.frames)

    def failed(self) -> str | None:
        return self._recorder.failed() if self._recorder is not None else None

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        if self.accounting is not None and self.accounting.ledger is not None:
            self.accounting.ledger.close()
