"""Fixtures for the quality tests; they live in qualitykit.py, shared with
tests/teleop/test_verify_cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

# qualitykit.py sits beside this file (see tests/teleop/recorder/conftest.py for why).
sys.path.insert(0, str(Path(__file__).parent))

from qualitykit import dataset, key, recorded, spec

__all__ = ["dataset", "key", "recorded", "spec"]
