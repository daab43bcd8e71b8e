"""Disk full in the middle of an episode, on a small tmpfs this test mounts (root only)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import diskkit
import pytest
from recorder_readback import check_format, file_hashes, read_dataset
from timing import MS

from robots.base import Robot
from teleop.bench.record import DriveLoop
from teleop.recorder import Recorder, RecorderConfig, RecorderIOError
from teleop.recorder.video import count_frames


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with diskkit.small_disk(tmp_path / "disk", size_mib=8) as mount:
        yield mount


def wait_for_frames_on_disk(journal: Path, robot: Robot, frames: int) -> None:
    deadline = time.monotonic() + 20_000 * MS
    while True:
        videos = [next(journal.glob(f"*/{c.name}.mp4"), None) for c in robot.spec.cameras]
        counts = [count_frames(v) if v is not None else 0 for v in videos]
        if min(counts) >= frames:
            return
        assert time.monotonic() < deadline, f"the encoder wrote only {counts} frames in 20 s"
        time.sleep(0.05)


def test_disk_full_closes_the_episode_and_teleop_goes_on(
    small_disk: Path, fake_robot: Robot
) -> None:
    config = RecorderConfig(root=small_disk / "ds", reserve_bytes=512 * 1024)
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder, DriveLoop(
        fake_robot, recorder
    ) as loop:  # fmt: skip
        recorder.start("before the disk fills", "alice")
        time.sleep(0.8)
        recorder.stop(True)
        first = file_hashes(config.root, "file-000")
        recorder.start("while the disk fills", "alice")
        time.sleep(0.8)
        # The claim is about frames already on disk: on a loaded machine the encoder may
        # lag the capture, so wait (bounded) until both cameras' videos hold 15 frames.
        wait_for_frames_on_disk(config.root / "journal", fake_robot, 15)
        diskkit.fill(small_disk / "filler")
        deadline = time.monotonic() + 20_000 * MS
        while recorder.status.active or "episode 1" not in (recorder.failed() or ""):
            assert time.monotonic() < deadline, f"no failure reported: {recorder.failed()}"
            time.sleep(0.05)
        message = recorder.failed()
        assert message is not None and "No space left on device" in message
        assert "kept as incomplete" in message
        ticks = loop.ticks
        time.sleep(300 * MS)
        assert loop.ticks > ticks + 10  # teleoperation goes on
        # Refused either for its reserve or for its journal (the failed episode's journal
        # was freed once published), but always with a RecorderIOError that says why.
        with pytest.raises(RecorderIOError, match=r"free disk space|No space left on device"):
            recorder.start("still full", "alice")
        assert not recorder.status.active
        (small_disk / "filler").unlink()
        assert recorder.start("after freeing space", "alice") == 2
        time.sleep(0.5)
        recorder.stop(True)
    rb = read_dataset(config.root)
    check_format(rb)
    assert file_hashes(config.root, "file-000") == first
    assert [e["station/complete"] for e in rb.episodes] == [True, False, True]
    assert rb.episodes[1]["station/stop_reason"].startswith("failed: ")
    assert rb.episodes[1]["length"] >= 15  # the 0.8 s before the disk filled
