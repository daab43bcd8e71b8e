"""Joins the session's record effects to the ``Recorder``.

The session decides whether a ``record`` message is allowed; this carries it out, in a
worker thread (saving an episode takes up to a second), and describes the result.
"""

from __future__ import annotations

import dataclasses
import logging

from robots.base import RobotSpec
from teleop.ledger import Ledger
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
        self._operator = ("", "")  # (principal, name) of the episode being recorded
        self._saved: list[tuple[int, str, str]] = []  # episodes awaiting their checks

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
            case fx.StartRecording(_, task, operator, operator_name):
                index = self.recorder.start(task.strip() or DEFAULT_TASK, operator_name or operator)
                self._operator = (operator, operator_name)
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
            index, principal, name = self._saved.pop(0)
            a = self.accounting
            verdict = close_episode(
                self._recorder.dataset.root, index, key=a.key, ledger=a.ledger,
                contributor=principal, contributor_name=name, spec=a.spec,
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

    def account_session(self, principal: str, name: str, lease_s: float, active_s: float) -> None:
        """Record an operator's session (lease-held and active time, in [s]) in the ledger."""
        if self.accounting is not None and self.accounting.ledger is not None and lease_s > 0:
            self.accounting.ledger.record_session(
                principal, name, lease_held_s=lease_s, active_s=active_s
            )

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
