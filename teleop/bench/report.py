"""Bench figures and their printing: a human table and a JSON document."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Figure:
    """One measured number, with the reference it should be read against.

    Attributes:
        suite: Which benchmark produced it (``sim``, ``relay``, ...).
        name: What was measured.
        value: The measurement.
        unit: Its unit.
        reference: What it is compared with, measured in the same run (or a target).
        reference_value: The reference's value, in the same unit, if numeric.
    """

    suite: str
    name: str
    value: float | str
    unit: str = ""
    reference: str = ""
    reference_value: float | None = None


def percentiles_us(samples_ns: Sequence[int] | np.ndarray) -> tuple[float, float, float]:
    """p50, p99 and max of durations given in [ns], returned in [µs]."""
    arr = np.asarray(samples_ns, dtype=np.float64) / 1e3
    if arr.size == 0:
        return (float("nan"),) * 3
    return float(np.median(arr)), float(np.percentile(arr, 99)), float(arr.max())


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _fmt(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(figures: Iterable[Figure]) -> str:
    """Figures as an aligned text table."""
    rows = [("suite", "figure", "value", "unit", "reference (same run)")]
    for f in figures:
        ref = (
            f.reference
            if f.reference_value is None
            else f"{f.reference}: {_fmt(f.reference_value)}"
        )
        rows.append((f.suite, f.name, _fmt(f.value), f.unit, ref))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def write_json(path: Path, figures: Iterable[Figure]) -> None:
    """Write the figures and the machine description as JSON."""
    doc = {"machine": machine(), "figures": [dataclasses.asdict(f) for f in figures]}
    path.write_text(json.dumps(doc, indent=2) + "\n")
