"""Fixtures for the recorder tests: a connected fake arm, and recording an episode."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import robots
from robots.base import Robot
from teleop.bench.record import DriveLoop
from teleop.recorder import EpisodeSummary, Recorder, RecorderConfig

# The tests import their read-back helpers (recorder_readback.py) from this directory:
# under --import-mode=importlib a test's own directory is not on sys.path, and
# ``tests/teleop/...`` cannot be imported as a package (``teleop`` is the real one).
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def fake_robot() -> Iterator[Robot]:
    with robots.make_robot("fake") as robot:
        yield robot


@pytest.fixture
def config(tmp_path: Path) -> RecorderConfig:
    return RecorderConfig(root=tmp_path / "recordings" / "ds", reserve_bytes=1 << 20,
                          station_id="test-station", software_version="0.1.0")  # fmt: skip


def _record_episode(
    recorder: Recorder, robot: Robot, seconds: float, task: str = "pick up the cube",
    success: bool | None = True,
) -> EpisodeSummary:  # fmt: skip
    """Run a 100 Hz control loop and record ``seconds`` of it."""
    with DriveLoop(robot, recorder):
        recorder.start(task, "alice")
        time.sleep(seconds)
        return recorder.stop(success)


RecordEpisode = Callable[..., EpisodeSummary]


@pytest.fixture
def record() -> RecordEpisode:
    """``record(recorder, robot, seconds, task=..., success=...)``: one episode."""
    return _record_episode
