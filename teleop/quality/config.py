"""The quality thresholds: one frozen, validated dataclass, loadable from JSON or TOML.

Each check grades its measured number against a *warn* and a *fail* bound. Bounds named
``*_periods`` are in row periods (1 / fps), ``*_fraction`` are fractions of the episode's
rows (or ticks), ``*_s`` are seconds. ``docs/quality.md`` lists every threshold and why
its default is what it is.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from teleop.quality.errors import ThresholdsError

# Pairs (warn, fail) where a larger measurement is worse: warn must not exceed fail.
_ABOVE_PAIRS = (
    ("gap_warn_periods", "gap_fail_periods"),
    ("repeat_warn_fraction", "repeat_fail_fraction"),
    ("repeat_run_warn_s", "repeat_run_fail_s"),
    ("skew_warn_periods", "skew_fail_periods"),
    ("frozen_warn_s", "frozen_fail_s"),
    ("blank_warn_s", "blank_fail_s"),
    ("limit_warn_fraction", "limit_fail_fraction"),
    ("clamp_warn_fraction", "clamp_fail_fraction"),
    ("idle_warn_fraction", "idle_fail_fraction"),
    ("tracking_warn_rad", "tracking_fail_rad"),
)
_FRACTIONS = (
    "rate_warn",
    "rate_fail",
    "repeat_warn_fraction",
    "repeat_fail_fraction",
    "limit_margin",
    "limit_warn_fraction",
    "limit_fail_fraction",
    "clamp_warn_fraction",
    "clamp_fail_fraction",
    "idle_warn_fraction",
    "idle_fail_fraction",
    "warn_weight",
)


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Where each check turns from pass to warn to fail. Checked on construction.

    Attributes:
        rate_warn: Achieved control or record rate below this fraction of its target warns.
        rate_fail: ... below this fraction fails (the issue's 90%).
        gap_warn_periods: Largest gap between consecutive rows' state times, in row
            periods, above which the episode warns.
        gap_fail_periods: ... above which it fails.
        repeat_warn_fraction: Rows of a camera that reuse the previous row's frame, as a
            fraction of the rows, above which the episode warns.
        repeat_fail_fraction: ... above which it fails.
        repeat_run_warn_s: Longest run of consecutive repeated frames in [s] that warns.
        repeat_run_fail_s: ... that fails (a camera that stalled).
        skew_warn_periods: p99 of |t_frame - t_state| over rows with a fresh frame, in row
            periods, above which the episode warns (within half a period passes).
        skew_fail_periods: ... above which it fails.
        frozen_warn_s: Longest run in [s] of identical frames while the arm moves, warn.
        frozen_fail_s: ... fail (the issue's 1 s).
        blank_warn_s: Longest run in [s] of frames whose mean intensity is near black or
            white, warn.
        blank_fail_s: ... fail.
        blank_dark_level: Mean gray level (0-255) at or below which a frame is black.
        blank_bright_level: Mean gray level (0-255) at or above which a frame is white.
        limit_margin: A joint within this fraction of its range from a limit is at it.
        limit_warn_fraction: Rows with a joint at its limit, as a fraction, that warn.
        limit_fail_fraction: ... that fail.
        clamp_warn_fraction: Control ticks on which the safety filter changed the
            request, as a fraction of the ticks, that warn.
        clamp_fail_fraction: ... that fail.
        idle_speed: Joint speed in [rad/s] (gripper: opening per second) below which the
            arm counts as still.
        idle_warn_fraction: Fraction of the episode with the arm still that warns.
        idle_fail_fraction: ... that fails.
        duration_min_s: An episode shorter than this in [s] fails.
        duration_warn_min_s: An episode shorter than this in [s] warns.
        duration_max_s: An episode longer than this in [s] fails.
        tracking_warn_rad: p95 over rows of the largest |action - next state| in [rad]
            that warns.
        tracking_fail_rad: ... that fails.
        near_dup_trajectory_rad: RMS distance in [rad] between two episodes' resampled
            joint trajectories under which they may be near-duplicates.
        near_dup_frames: Mean absolute difference (gray levels, 0-255) between two
            episodes' downsampled frames under which they may be near-duplicates.
        warn_weight: What a warning counts in the score (a pass counts 1, a fail 0).
    """

    rate_warn: float = 0.95
    rate_fail: float = 0.90
    gap_warn_periods: float = 2.5
    gap_fail_periods: float = 5.0
    repeat_warn_fraction: float = 0.05
    repeat_fail_fraction: float = 0.50
    repeat_run_warn_s: float = 0.10
    repeat_run_fail_s: float = 0.25
    skew_warn_periods: float = 0.5
    skew_fail_periods: float = 1.0
    frozen_warn_s: float = 0.5
    frozen_fail_s: float = 1.0
    blank_warn_s: float = 0.5
    blank_fail_s: float = 1.0
    blank_dark_level: float = 10.0
    blank_bright_level: float = 245.0
    limit_margin: float = 0.02
    limit_warn_fraction: float = 0.05
    limit_fail_fraction: float = 0.25
    clamp_warn_fraction: float = 0.10
    clamp_fail_fraction: float = 0.50
    idle_speed: float = 0.05
    idle_warn_fraction: float = 0.5
    idle_fail_fraction: float = 0.8
    duration_min_s: float = 1.0
    duration_warn_min_s: float = 2.0
    duration_max_s: float = 3600.0
    tracking_warn_rad: float = 0.15
    tracking_fail_rad: float = 0.30
    near_dup_trajectory_rad: float = 0.05
    near_dup_frames: float = 6.0
    warn_weight: float = 0.5

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ThresholdsError(f"threshold {field.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ThresholdsError(
                    f"threshold {field.name} must be finite and >= 0, got {value}"
                )
            object.__setattr__(self, field.name, float(value))
        for name in _FRACTIONS:
            if getattr(self, name) > 1:
                raise ThresholdsError(
                    f"threshold {name} is a fraction in [0, 1], got {getattr(self, name)}"
                )
        for warn, fail in _ABOVE_PAIRS:
            self._ordered(warn, fail)
        self._ordered("rate_fail", "rate_warn")
        self._ordered("duration_min_s", "duration_warn_min_s")
        self._ordered("duration_warn_min_s", "duration_max_s")
        self._ordered("blank_dark_level", "blank_bright_level")
        if self.blank_bright_level > 255:
            raise ThresholdsError(
                f"blank_bright_level is a gray level in [0, 255], got {self.blank_bright_level}"
            )

    def _ordered(self, low: str, high: str) -> None:
        if getattr(self, low) > getattr(self, high):
            raise ThresholdsError(
                f"threshold {low} ({getattr(self, low)}) must not exceed "
                f"{high} ({getattr(self, high)})"
            )

    def to_dict(self) -> dict[str, float]:
        """Every threshold by name."""
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Thresholds:
        """The defaults, with ``values`` overriding some of them.

        Raises:
            ThresholdsError: An unknown name, or a value out of range.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ThresholdsError(
                f"unknown threshold {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return cls(**dict(values))


def load_thresholds(path: Path) -> Thresholds:
    """Thresholds from a JSON (``.json``) or TOML (any other suffix) file of overrides.

    Raises:
        ThresholdsError: The file cannot be read or parsed, or holds a bad threshold.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ThresholdsError(f"cannot read thresholds file {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text) if Path(path).suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"thresholds file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ThresholdsError(f"thresholds file {path} must hold a table of name = number")
    try:
        return Thresholds.from_mapping(data)
    except ThresholdsError as exc:
        raise ThresholdsError(f"{path}: {exc}") from exc
