"""Episodes recorded from the fake arm, read back with pyarrow and PyAV."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import diskkit
import numpy as np
import pytest
from recorder_readback import check_format, file_hashes, read_dataset
from timing import MS

import robots
from robots.base import CameraSpec, Robot
from teleop.bench.record import DriveLoop
from teleop.errors import TeleopError
from teleop.recorder import (
    DatasetError,
    Recorder,
    RecorderConfig,
    RecorderInputError,
    RecorderIOError,
    RecorderStateError,
    TickSample,
)


def test_two_episodes_hold_the_format_and_the_truth(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        first = record(recorder, fake_robot, 1.5, task="pick up the cube", success=True)
        second = record(recorder, fake_robot, 1.0, task="open the drawer", success=None)
    rb = read_dataset(config.root)
    check_format(rb)
    assert (first.episode_index, second.episode_index) == (0, 1)
    assert [e["length"] for e in rb.episodes] == [first.length, second.length]
    assert 40 <= first.length <= 47 and 25 <= second.length <= 32  # 30 fps
    assert rb.tasks == {0: "pick up the cube", 1: "open the drawer"}
    info = rb.info
    assert info["fps"] == 30 and info["robot_type"] == "fake"
    assert info["features"]["observation.state"]["names"] == list(fake_robot.spec.joint_names)
    assert info["features"]["observation.images.front"]["info"]["video.codec"] == "h264"
    ep0, ep1 = rb.episodes
    assert ep0["station/complete"] and ep0["station/success"] is True
    assert ep1["station/success"] is None and ep1["station/stop_reason"] == "stop"
    assert ep0["station/operator"] == "alice" and ep0["station/station_id"] == "test-station"
    assert ep0["station/software_version"] == "0.1.0" and ep0["station/robot_type"] == "fake"
    assert 90 < ep0["station/control_hz"] < 110 and ep0["station/control_hz_target"] == 100.0
    assert 25 < ep0["station/record_hz"] < 35
    assert ep0["station/ticks"] >= 140 and ep0["station/clamped_ticks"] > 0
    assert ep0["station/rows_lost"] == 0 and first.rows_lost == 0
    assert not list((config.root / "journal").glob("*/"))  # journals gone once published


def test_recorded_action_is_what_the_robot_received(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 1.5)  # any 1.5 s holds clamped and free rows
    rows = read_dataset(config.root).episode_rows(0)
    sent_t = np.array([t for t, _ in fake_robot.sent])  # type: ignore[attr-defined]
    sent_q = np.array([q for _, q in fake_robot.sent])  # type: ignore[attr-defined]
    clamped = 0
    for t_state, action, requested, was_clamped in zip(
        rows["t_state_ns"], rows["action"], rows["action.requested"], rows["action.clamped"],
        strict=True,
    ):  # fmt: skip
        k = int(np.searchsorted(sent_t, t_state))  # the command sent right after that read
        np.testing.assert_array_equal(np.float32(sent_q[k]), np.asarray(action, np.float32))
        assert was_clamped == (not np.allclose(action, requested, atol=1e-6))
        clamped += was_clamped
    assert 0 < clamped < len(rows["action"])  # the sine overshoots the limits at its peaks


def test_stats_are_lists_and_match_the_data(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 1.0)
        record(recorder, fake_robot, 1.0, task="again")
    rb = read_dataset(config.root)
    action = np.asarray(rb.data.column("action").to_pylist())
    s = rb.stats["action"]
    assert s["count"] == [len(action)]
    np.testing.assert_allclose(s["mean"], action.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(s["std"], action.std(axis=0), atol=1e-5)
    np.testing.assert_allclose(s["min"], action.min(axis=0), atol=1e-6)
    np.testing.assert_allclose(s["max"], action.max(axis=0), atol=1e-6)
    image = np.asarray(rb.stats["observation.images.front"]["mean"])
    assert image.shape == (3, 1, 1) and np.all((image >= 0) & (image <= 1))
    assert np.asarray(rb.stats["observation.images.wrist"]["std"]).shape == (3, 1, 1)
    assert rb.stats["timestamp"]["count"] == [rb.data.num_rows]
    per_episode = [e["stats/action/count"] for e in rb.episodes]
    assert per_episode == [[e["length"]] for e in rb.episodes]


def test_resume_appends_and_keeps_stats_right(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 1.0)
    before = file_hashes(config.root, "file-000")
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        assert recorder.dataset.next_index == 1
        summary = record(recorder, fake_robot, 1.0, task="second session")
    assert summary.episode_index == 1
    assert file_hashes(config.root, "file-000") == before
    rb = read_dataset(config.root)
    check_format(rb)
    state = np.asarray(rb.data.column("observation.state").to_pylist())
    s = rb.stats["observation.state"]
    assert s["count"] == [rb.data.num_rows]
    np.testing.assert_allclose(s["mean"], state.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(s["std"], state.std(axis=0), atol=1e-5)


def test_libsvtav1_episode(fake_robot: Robot, tmp_path: Path, record) -> None:
    config = RecorderConfig(root=tmp_path / "av1", codec="libsvtav1", reserve_bytes=0)
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 1.0)
    rb = read_dataset(config.root)
    check_format(rb)
    assert rb.info["features"]["observation.images.wrist"]["info"]["video.codec"] == "av1"


def test_state_errors_are_clear_and_leave_episodes_intact(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 0.5)
        before = file_hashes(config.root, "file-000")
        with pytest.raises(RecorderStateError, match="not recording"):
            recorder.stop(True)
        with pytest.raises(RecorderStateError, match="not recording"):
            recorder.discard()
        with pytest.raises(RecorderInputError, match="1001 characters; the limit is 1000"):
            recorder.start("x" * 1001, "alice")
        with pytest.raises(RecorderInputError, match="empty"):
            recorder.start("   ", "alice")
        with DriveLoop(fake_robot, recorder):
            assert recorder.start("y" * 1000, "alice") == 1
            with pytest.raises(RecorderStateError, match="already recording episode 1"):
                recorder.start("again", "bob")
            time.sleep(300 * MS)
            assert recorder.status.active and recorder.status.frames > 0
            recorder.discard()
            assert not recorder.status.active
            assert recorder.start("after the discard", "alice") == 1
            time.sleep(0.3)
            recorder.stop(False)
    assert issubclass(RecorderStateError, TeleopError)
    rb = read_dataset(config.root)
    check_format(rb)
    assert len(rb.episodes) == 2 and rb.episodes[1]["tasks"] == ["after the discard"]
    assert file_hashes(config.root, "file-000") == before


def test_unwritable_record_dir_is_refused(fake_robot: Robot, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the record dir should be")
    config = RecorderConfig(root=blocker / "ds")
    with pytest.raises(RecorderIOError, match="cannot create the record directory"):
        Recorder(config, fake_robot.spec, fake_robot.cameras)


def test_read_only_record_dir_is_refused(fake_robot: Robot, tmp_path: Path) -> None:
    with (
        diskkit.small_disk(tmp_path / "ro", size_mib=1, read_only=True) as ro,
        pytest.raises(RecorderIOError, match="choose a writable --record-dir"),
    ):
        Recorder(RecorderConfig(root=ro / "ds"), fake_robot.spec, fake_robot.cameras)


def test_one_recorder_per_dataset(fake_robot: Robot, config: RecorderConfig) -> None:
    with (
        Recorder(config, fake_robot.spec, fake_robot.cameras),
        pytest.raises(DatasetError, match="in use by another process"),
    ):
        Recorder(config, fake_robot.spec, fake_robot.cameras)


def test_other_features_are_refused_on_resume(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 0.3)
    with robots.make_robot("fake", cameras=(CameraSpec("front"),)) as one_camera:
        with pytest.raises(DatasetError, match=r"other features.*observation\.images\.wrist"):
            Recorder(config, one_camera.spec, one_camera.cameras)
    other_fps = RecorderConfig(root=config.root, fps=15)
    with pytest.raises(DatasetError, match="30 fps, not 15"):
        Recorder(other_fps, fake_robot.spec, fake_robot.cameras)


def test_on_tick_only_queues(fake_robot: Robot, config: RecorderConfig) -> None:
    state = fake_robot.read()
    sample = TickSample(time.monotonic_ns(), state, state.q, state.q, None, False, False)
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        recorder.on_tick(sample)  # idle: ignored
        recorder.start("timing", "alice")
        n = 20_000
        t0 = time.perf_counter_ns()
        for _ in range(n):
            recorder.on_tick(sample)
        per_call_us = (time.perf_counter_ns() - t0) / n / 1e3
        recorder.discard()
    assert per_call_us < 20  # a generous bound; the figure itself is in the bench


def test_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(RecorderInputError, match="fps"):
        RecorderConfig(root=tmp_path, fps=0)
    with pytest.raises(RecorderInputError, match="codec 'h265' unknown"):
        RecorderConfig(root=tmp_path, codec="h265")
    with pytest.raises(RecorderInputError, match="flush_interval_s"):
        RecorderConfig(root=tmp_path, flush_interval_s=2.0)


def test_closing_while_recording_keeps_the_episode_as_incomplete(
    fake_robot: Robot, config: RecorderConfig
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        with DriveLoop(fake_robot, recorder):
            recorder.start("interrupted by shutdown", "alice")
            time.sleep(0.5)
        assert recorder.failed() is None
    rb = read_dataset(config.root)
    check_format(rb)
    (episode,) = rb.episodes
    assert episode["station/complete"] is False and episode["station/stop_reason"] == "closed"
    with pytest.raises(RecorderStateError, match="closed"):
        recorder.start("after close", "alice")


def test_a_dead_encoder_fails_the_episode_and_recording_goes_on(
    fake_robot: Robot, config: RecorderConfig, record
) -> None:
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        with DriveLoop(fake_robot, recorder):
            recorder.start("the encoder dies", "alice")
            time.sleep(0.6)
            assert recorder.encoder_pid is not None
            os.kill(recorder.encoder_pid, signal.SIGKILL)
            deadline = time.monotonic() + 10_000 * MS
            while recorder.status.active or "teleop recover" not in (recorder.failed() or ""):
                assert time.monotonic() < deadline, recorder.failed()
                time.sleep(0.05)
            assert "encoder process died" in (recorder.failed() or "")
        summary = record(recorder, fake_robot, 0.5, task="with a new encoder")
        assert summary.episode_index == 0 and summary.complete
    with Recorder(config, fake_robot.spec, fake_robot.cameras):
        pass  # opening recovers the failed episode's journal
    rb = read_dataset(config.root)
    check_format(rb)
    assert [e["tasks"][0] for e in rb.episodes] == ["with a new encoder", "the encoder dies"]
    assert [e["station/complete"] for e in rb.episodes] == [True, False]
