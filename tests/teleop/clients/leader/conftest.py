"""Fixtures for the leader client's tests; the helpers live in ``leaderkit``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Under --import-mode=importlib a test's own directory is not on sys.path, and
# ``tests/teleop/...`` cannot be a package (``teleop`` is the real one): the tests
# import ``leaderkit`` from here.
sys.path.insert(0, str(Path(__file__).parent))

from leaderkit import Station, serve_so101


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    """One station per test module: its tests share the follower and leave it free."""
    with serve_so101(tmp_path_factory.mktemp("station")) as running_station:
        yield running_station
