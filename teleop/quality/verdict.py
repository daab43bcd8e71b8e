"""Check results, the score, and an episode's verdict.

Each check gives a :class:`Status` with the number it measured. The score is the
weighted mean over the checks that apply: a pass counts 1, a warning
``Thresholds.warn_weight`` (0.5), a fail 0. An episode is accepted when no check
fails; its credited time in the ledger is ``duration_s * score`` when accepted, 0 when not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any


class Status(Enum):
    """A check's verdict. ``SKIP``: the check does not apply (e.g. no cameras)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


def grade_above(value: float, warn: float, fail: float) -> Status:
    """PASS up to ``warn``, WARN up to ``fail``, FAIL above (NaN fails)."""
    if not value <= fail:
        return Status.FAIL
    return Status.WARN if value > warn else Status.PASS


def grade_below(value: float, warn: float, fail: float) -> Status:
    """PASS down to ``warn``, WARN down to ``fail``, FAIL below (NaN fails)."""
    if not value >= fail:
        return Status.FAIL
    return Status.WARN if value < warn else Status.PASS


def worst(statuses: Sequence[Status]) -> Status:
    """The worst of some statuses (SKIP only if all are SKIP or there are none)."""
    for status in (Status.FAIL, Status.WARN, Status.PASS):
        if status in statuses:
            return status
    return Status.SKIP


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one episode.

    Attributes:
        name: The check's stable name, e.g. ``rates``.
        status: Its verdict.
        value: The number it measured (None when it could not be measured).
        unit: The unit of ``value``.
        detail: What was measured, for a human, e.g. ``control 61.2 Hz of 100 Hz``.
    """

    name: str
    status: Status
    value: float | None
    unit: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (a non-finite value becomes None)."""
        value = self.value
        if value is not None and not math.isfinite(value):
            value = None
        return {
            "name": self.name,
            "status": self.status.value,
            "value": value,
            "unit": self.unit,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """The inverse of :meth:`to_dict`."""
        return cls(
            data["name"],
            Status(data["status"]),
            data.get("value"),
            data.get("unit", ""),
            data.get("detail", ""),
        )


def score(checks: Sequence[CheckResult], warn_weight: float) -> float:
    """The quality score in [0, 1]: mean over applicable checks of 1 / warn_weight / 0."""
    points = {Status.PASS: 1.0, Status.WARN: warn_weight, Status.FAIL: 0.0}
    graded = [points[c.status] for c in checks if c.status is not Status.SKIP]
    return sum(graded) / len(graded) if graded else 0.0


def accepted(checks: Sequence[CheckResult]) -> bool:
    """An episode is accepted when none of its checks fails."""
    return all(c.status is not Status.FAIL for c in checks)


@dataclasses.dataclass(frozen=True)
class EpisodeVerdict:
    """What the station concluded about one saved episode.

    Attributes:
        episode_index: The episode.
        episode_uuid: Its ``station/episode_uuid`` ("" when the recorder wrote none).
        duration_s: ``length / fps`` in [s].
        score: Quality score in [0, 1] (see the module docstring).
        accepted: No check failed.
        checks: Every check's result, in a fixed order.
        duplicate_of: The earlier episode this one duplicates, if any.
        manifest_path: The signed manifest written for it (None when not signed).
        ledger_error: Why the ledger could not record it (None: recorded, or no ledger).
    """

    episode_index: int
    episode_uuid: str
    duration_s: float
    score: float
    accepted: bool
    checks: tuple[CheckResult, ...]
    duplicate_of: int | None = None
    manifest_path: Path | None = None
    ledger_error: str | None = None

    def by_status(self, status: Status) -> list[CheckResult]:
        """The checks with this status."""
        return [c for c in self.checks if c.status is status]

    def summary(self) -> str:
        """One line for the operator, e.g. ``episode 3: score 0.97, accepted; warn: idle``."""
        state = "accepted" if self.accepted else "rejected"
        parts = [f"episode {self.episode_index}: score {self.score:.2f}, {state}"]
        for status in (Status.FAIL, Status.WARN):
            hits = self.by_status(status)
            if hits:
                parts.append(
                    f"{status.value}: " + ", ".join(f"{c.name} ({c.detail})" for c in hits)
                )
        if self.ledger_error:
            parts.append(f"not in the ledger: {self.ledger_error}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "episode_index": self.episode_index,
            "episode_uuid": self.episode_uuid,
            "duration_s": self.duration_s,
            "score": self.score,
            "accepted": self.accepted,
            "duplicate_of": self.duplicate_of,
            "checks": [c.to_dict() for c in self.checks],
            "manifest": str(self.manifest_path) if self.manifest_path else None,
            "ledger_error": self.ledger_error,
        }
