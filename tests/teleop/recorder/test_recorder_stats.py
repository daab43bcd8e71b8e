"""Episode statistics and their aggregation (what meta/stats.json holds)."""

from __future__ import annotations

import numpy as np

from teleop.recorder.stats import aggregate, from_json, image_stats, numeric_stats, to_json
from teleop.recorder.video import add_histogram


def test_aggregated_stats_equal_stats_of_all_rows() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.normal(i, 1 + i, size=(40 + 13 * i, 4)) for i in range(3)]
    agg = aggregate([{"x": numeric_stats(p)} for p in parts])["x"]
    every = np.concatenate(parts)
    np.testing.assert_allclose(agg["mean"], every.mean(axis=0))
    np.testing.assert_allclose(agg["std"], every.std(axis=0))
    np.testing.assert_allclose(agg["min"], every.min(axis=0))
    np.testing.assert_allclose(agg["max"], every.max(axis=0))
    assert agg["count"].tolist() == [len(every)]
    assert agg["q50"].shape == (4,)


def test_scalar_features_have_shape_one() -> None:
    stats = numeric_stats(np.array([1.0, 2.0, 3.0]))
    assert stats["mean"].tolist() == [2.0] and stats["count"].tolist() == [3]


def test_image_stats_are_per_channel_in_unit_range() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    hist = np.zeros((3, 256), np.int64)
    add_histogram(hist, image, stride=1)
    stats = image_stats(hist, frames=1)
    pixels = image.reshape(-1, 3) / 255.0
    assert stats["mean"].shape == (3, 1, 1) and stats["count"].tolist() == [1]
    np.testing.assert_allclose(stats["mean"].ravel(), pixels.mean(axis=0))
    np.testing.assert_allclose(stats["std"].ravel(), pixels.std(axis=0))
    np.testing.assert_allclose(stats["min"].ravel(), pixels.min(axis=0))
    np.testing.assert_allclose(stats["max"].ravel(), pixels.max(axis=0))
    agg = aggregate([{"cam": stats}, {"cam": stats}])["cam"]
    assert agg["mean"].shape == (3, 1, 1) and agg["count"].tolist() == [2]


def test_json_round_trip_keeps_every_value_a_list() -> None:
    doc = to_json({"x": numeric_stats(np.arange(6.0).reshape(3, 2))})
    assert all(isinstance(v, list) for v in doc["x"].values())
    back = from_json(doc)
    np.testing.assert_allclose(back["x"]["mean"], [2.0, 3.0])
