"""Fixtures for the station tests: recorded episodes, the key and the spec, from
tests/teleop/quality/qualitykit.py (shared with the quality tests)."""

from __future__ import annotations

import sys
from pathlib import Path

# qualitykit.py sits in the quality tests' directory (see tests/teleop/recorder/conftest.py
# for why it goes on sys.path).
sys.path.insert(0, str(Path(__file__).parents[1] / "quality"))

from qualitykit import dataset, key, recorded, spec

__all__ = ["dataset", "key", "recorded", "spec"]
