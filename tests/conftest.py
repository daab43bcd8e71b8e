"""Suite-wide setup: station keys made by tests go to a temporary directory, not ~/.config."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def station_key_dir() -> Iterator[str]:
    """``$TELEOP_KEY_DIR`` for this run (child processes inherit it)."""
    with tempfile.TemporaryDirectory(prefix="teleop-keys-") as path:
        previous = os.environ.get("TELEOP_KEY_DIR")
        os.environ["TELEOP_KEY_DIR"] = path
        yield path
        if previous is None:
            del os.environ["TELEOP_KEY_DIR"]
        else:
            os.environ["TELEOP_KEY_DIR"] = previous
