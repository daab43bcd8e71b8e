"""An episode's ``station/*`` columns: the station's own metadata beside LeRobot's.

:meth:`StationColumns.build` makes them from the journal's header, the capture's
counts and the rows kept, for an episode that stopped and for one recovered after a
crash alike, so both carry the same metadata. ``docs/recording.md`` lists every column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from teleop.recorder.model import EpisodeCounts
from teleop.recorder.rows import Row


def record_hz(rows: Sequence[Row]) -> float:
    """Achieved record rate in [Hz]: rows per second of state time (0 below two rows)."""
    if len(rows) < 2 or rows[-1].t_state_ns <= rows[0].t_state_ns:
        return 0.0
    return (len(rows) - 1) * 1e9 / (rows[-1].t_state_ns - rows[0].t_state_ns)


@dataclasses.dataclass(frozen=True)
class StationColumns:
    """The ``station/*`` columns of one episode (names without the prefix).

    Attributes:
        complete: Every row the capture took is in the episode, and it was stopped.
        success: The operator's verdict, or None.
        stop_reason: ``"stop"``, ``"lease_lost"``, ``"recovered"``, ``"failed: ..."``.
        operator: Who recorded it (a name, or the token's principal).
        control_hz_target: The control loop's set rate, [Hz].
        control_hz: Its achieved rate over the episode, [Hz].
        record_hz_target: The dataset's fps, [Hz].
        record_hz: Rows per second of state time, [Hz].
        rows_lost: Rows taken but cut off without their video frames.
        cameras: The cameras, in the order of their columns.
        frame_repeats: Per camera, rows that repeat the previous row's frame.
        frame_drops: Per camera, frames captured that no row used.
        max_frame_skew_ns: Per camera, the largest |frame time - state time|, [ns].
    """

    complete: bool
    success: bool | None
    stop_reason: str
    operator: str
    station_id: str
    robot_type: str
    software_version: str
    codec: str
    started_at: str
    control_hz_target: float
    control_hz: float
    record_hz_target: float
    record_hz: float
    ticks: int
    late_ticks: int
    clamped_ticks: int
    row_gaps: int
    late_rows: int
    rows_lost: int
    cameras: tuple[str, ...] = ()
    frame_repeats: Mapping[str, int] = dataclasses.field(default_factory=dict)
    frame_drops: Mapping[str, int] = dataclasses.field(default_factory=dict)
    max_frame_skew_ns: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(
        cls,
        header: Mapping[str, Any],
        counts: EpisodeCounts,
        rows: Sequence[Row],
        *,
        rows_lost: int,
        complete: bool,
        success: bool | None,
        stop_reason: str,
    ) -> StationColumns:
        """The columns of an episode, from its journal header, counts and rows kept."""
        cameras = tuple(header.get("cameras", []))
        return cls(
            complete=complete,
            success=success,
            stop_reason=stop_reason,
            operator=header.get("operator", ""),
            station_id=header.get("station_id", ""),
            robot_type=header.get("robot_type", ""),
            software_version=header.get("software_version", ""),
            codec=header.get("codec", ""),
            started_at=header.get("started_at", ""),
            control_hz_target=float(header.get("control_hz", 0.0)),
            control_hz=counts.control_hz(),
            record_hz_target=float(header.get("fps", 0)),
            record_hz=record_hz(rows),
            ticks=counts.ticks,
            late_ticks=counts.late_ticks,
            clamped_ticks=counts.clamped_ticks,
            row_gaps=counts.row_gaps,
            late_rows=counts.late_rows,
            rows_lost=rows_lost,
            cameras=cameras,
            frame_repeats={cam: counts.frame_repeats.get(cam, 0) for cam in cameras},
            frame_drops={cam: counts.frame_drops.get(cam, 0) for cam in cameras},
            max_frame_skew_ns={cam: counts.max_skew_ns.get(cam, 0) for cam in cameras},
        )

    def columns(self) -> dict[str, Any]:
        """The columns by name (without the ``station/`` prefix), in the dataset's order."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _PER_CAMERA and f.name != "cameras"
        }
        for cam in self.cameras:
            for name in _PER_CAMERA:
                out[f"{name}.{cam}"] = getattr(self, name)[cam]
        return out


_PER_CAMERA = ("frame_repeats", "frame_drops", "max_frame_skew_ns")
