"""Feature statistics: per episode, and aggregated over episodes.

Every statistic is an array (``count`` has shape (1,)), as LeRobot requires. Vector
features give arrays of their length; scalar features shape (1,); camera features
(3, 1, 1) per channel with pixel values scaled to [0, 1].

Aggregation is exact for ``min``, ``max``, ``mean``, ``std`` and ``count`` (parallel
variance); quantiles are the count-weighted mean of the episodes' quantiles, an
approximation (the same one LeRobot makes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Stats = dict[str, np.ndarray]
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


def numeric_stats(values: np.ndarray) -> Stats:
    """Statistics of one feature over an episode's rows.

    Args:
        values: Shape (N,) for a scalar feature or (N, d) for a vector; N >= 1.
    """
    arr = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    stats: Stats = {
        "min": arr.min(axis=0),
        "max": arr.max(axis=0),
        "mean": arr.mean(axis=0),
        "std": arr.std(axis=0),
        "count": np.array([arr.shape[0]], dtype=np.int64),
    }
    for key, q in QUANTILES.items():
        stats[key] = np.quantile(arr, q, axis=0)
    return stats


def image_stats(histogram: np.ndarray, frames: int) -> Stats:
    """Per-channel statistics, in [0, 1], from pixel value counts.

    Args:
        histogram: Shape (3, 256): per channel, how many sampled pixels had each value.
        frames: How many frames were sampled (the ``count``).
    """
    hist = np.asarray(histogram, dtype=np.float64)
    values = np.arange(256, dtype=np.float64) / 255.0
    total = hist.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    mean = (hist * values).sum(axis=1) / total
    var = (hist * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / total
    present = hist > 0
    lo = np.array([values[np.argmax(p)] if p.any() else 0.0 for p in present])
    hi = np.array([values[255 - np.argmax(p[::-1])] if p.any() else 0.0 for p in present])
    cdf = np.cumsum(hist, axis=1) / total[:, None]
    stats: Stats = {"min": lo, "max": hi, "mean": mean, "std": np.sqrt(var)}
    for key, q in QUANTILES.items():
        stats[key] = np.array([values[min(255, int(np.searchsorted(c, q)))] for c in cdf])
    stats = {k: v.reshape(3, 1, 1) for k, v in stats.items()}
    stats["count"] = np.array([frames], dtype=np.int64)
    return stats


def aggregate_feature(items: Sequence[Stats]) -> Stats:
    """One feature's statistics over several episodes (weighted by their counts)."""
    counts = np.array([float(np.asarray(s["count"]).reshape(-1)[0]) for s in items])
    total = counts.sum()
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in items])
    weights = counts.reshape((len(items),) + (1,) * (means.ndim - 1))
    mean = (means * weights).sum(axis=0) / total
    variances = np.stack([np.asarray(s["std"], dtype=np.float64) ** 2 for s in items])
    var = ((variances + (means - mean) ** 2) * weights).sum(axis=0) / total
    out: Stats = {
        "min": np.min(np.stack([np.asarray(s["min"]) for s in items]), axis=0),
        "max": np.max(np.stack([np.asarray(s["max"]) for s in items]), axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([round(total)], dtype=np.int64),
    }
    for key in QUANTILES:
        if all(key in s for s in items):
            qs = np.stack([np.asarray(s[key], dtype=np.float64) for s in items])
            out[key] = (qs * weights).sum(axis=0) / total
    return out


def aggregate(episodes: Sequence[Mapping[str, Stats]]) -> dict[str, Stats]:
    """Dataset statistics from per-episode statistics (features missing somewhere skipped)."""
    keys = [k for k in episodes[0] if all(k in e for e in episodes)] if episodes else []
    return {k: aggregate_feature([e[k] for e in episodes]) for k in keys}


def to_json(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Stats as nested lists (every value a list, as ``meta/stats.json`` needs)."""
    return {f: {k: np.asarray(v).tolist() for k, v in s.items()} for f, s in stats.items()}


def from_json(doc: Mapping[str, Mapping[str, Any]]) -> dict[str, Stats]:
    """The inverse of :func:`to_json`."""
    return {f: {k: np.asarray(v) for k, v in s.items()} for f, s in doc.items()}
