"""Joins the session's record effects to the ``Recorder``.

The hub decides whether a ``record`` message is allowed; this carries it out, in a
worker thread (saving an episode takes up to a second), and describes the result.
"""

from __future__ import annotations

import logging

from teleop import effects as fx
from teleop.protocol import RecordAction, RecordingInfo, RecordStatus
from teleop.recorder import Recorder, RecorderError, TickSample

log = logging.getLogger(__name__)

DEFAULT_TASK = "teleoperation"
"""The task text of an episode started without one (the protocol makes it optional)."""


class RecordingLink:
    """The server's handle on its recorder.

    Args:
        recorder: The recorder for this station's dataset, or None if it could not
            be opened.
        unavailable: Why there is no recorder; told to an operator who tries to record.
    """

    def __init__(self, recorder: Recorder | None, unavailable: str = "") -> None:
        self._recorder = recorder
        self._unavailable = unavailable or "no recorder"

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
            RecorderError: The recorder refused or failed; the hub must be told.
        """
        match effect:
            case fx.StartRecording(_, task, operator, operator_name):
                index = self.recorder.start(task.strip() or DEFAULT_TASK, operator_name or operator)
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
                return RecordStatus(False, RecordAction.STOP, summary.task, success, None, text)
            case fx.DiscardRecording():
                self.recorder.discard()
                return None
        return None

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
