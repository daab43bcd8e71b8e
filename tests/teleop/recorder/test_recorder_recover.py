"""Crash safety: kill -9 in the middle of an episode, then ``teleop recover``."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from recorder_readback import check_format, file_hashes, read_dataset

from robots.base import Robot
from teleop.cli.recover import add_recover_parser
from teleop.recorder import Recorder, RecorderConfig

CHILD = Path(__file__).with_name("record_child.py")


def run_recover(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="teleop")
    add_recover_parser(parser.add_subparsers())
    args = parser.parse_args(["recover", *argv])
    return int(args.run(args))


def kill_mid_episode(root: Path, seconds: float) -> list[tuple[int, int]]:
    """Run the child, kill -9 its whole process group ``seconds`` into the second
    episode; returns its ``(t_ns, rows)`` reports."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(root)], stdout=subprocess.PIPE, text=True,
        start_new_session=True, cwd=Path(__file__).parents[3],
    )  # fmt: skip
    reports: list[tuple[int, int]] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("ROWS"):
                _, rows, t_ns = line.split()
                reports.append((int(t_ns), int(rows)))
                if (reports[-1][0] - reports[0][0]) / 1e9 >= seconds:
                    break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert reports, "the child never got to the second episode"
    return reports


def test_kill_9_then_recover_keeps_everything_journaled(tmp_path: Path, capsys) -> None:
    root = tmp_path / "ds"
    reports = kill_mid_episode(root, 2.0)
    t_kill = reports[-1][0]
    first = file_hashes(root, "file-000")
    assert len(first) == 3  # one data file, two videos
    assert list((root / "journal").glob("*/rows.msgpack")), "no journal left behind"

    assert run_recover(str(root)) == 0
    out = capsys.readouterr().out
    assert "episode 1" in out and "incomplete" in out

    rb = read_dataset(root)
    check_format(rb)
    assert file_hashes(root, "file-000") == first  # the earlier episode is untouched
    assert len(rb.episodes) == 2
    ep = rb.episodes[1]
    assert ep["station/complete"] is False and ep["station/stop_reason"] == "recovered"
    assert ep["tasks"] == ["second, killed"]
    # Everything up to the last flush survives: rows taken 0.6 s before the kill (the
    # journal flushes every 0.25 s) are in; nothing beyond what was taken is invented.
    flushed = max(rows for t, rows in reports if t <= t_kill - 600_000_000)
    assert flushed <= ep["length"] <= reports[-1][1] + 2
    assert not list((root / "journal").glob("*/"))


def test_recover_discard_drops_the_journal(tmp_path: Path, capsys) -> None:
    root = tmp_path / "ds"
    kill_mid_episode(root, 0.5)
    assert run_recover(str(root), "--discard") == 0
    assert "discarded 1" in capsys.readouterr().out
    rb = read_dataset(root)
    assert len(rb.episodes) == 1 and not list((root / "journal").glob("*/"))


def test_a_new_recorder_recovers_leftovers_first(tmp_path: Path, fake_robot: Robot, record) -> None:
    root = tmp_path / "ds"
    kill_mid_episode(root, 0.5)
    with Recorder(RecorderConfig(root=root, reserve_bytes=0), fake_robot.spec,
                  fake_robot.cameras) as recorder:  # fmt: skip
        assert recorder.dataset.next_index == 2
        assert record(recorder, fake_robot, 0.5).episode_index == 2
    rb = read_dataset(root)
    check_format(rb)
    assert [e["station/complete"] for e in rb.episodes] == [True, False, True]


def test_half_published_episode_is_rolled_back(tmp_path: Path, fake_robot: Robot, record) -> None:
    """A crash between the episodes table and info.json: info.json is the commit point."""
    config = RecorderConfig(root=tmp_path / "ds", reserve_bytes=0)
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        record(recorder, fake_robot, 0.4)
        record(recorder, fake_robot, 0.4)
    info_path = config.root / "meta/info.json"
    import json

    info = json.loads(info_path.read_text())
    info["total_episodes"], info["splits"] = 1, {"train": "0:1"}
    info["total_frames"] = read_dataset(config.root).episodes[0]["length"]
    info_path.write_text(json.dumps(info))  # as if the crash came before info.json's replace
    with Recorder(config, fake_robot.spec, fake_robot.cameras) as recorder:
        assert recorder.dataset.next_index == 1
    rb = read_dataset(config.root)
    check_format(rb)
    assert pq.read_metadata(config.root / "meta/episodes/chunk-000/file-000.parquet").num_rows == 1
    assert not (config.root / "data/chunk-000/file-001.parquet").exists()


def test_recover_reports_bad_paths(tmp_path: Path, capsys) -> None:
    assert run_recover(str(tmp_path / "missing")) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_recover(str(tmp_path / "empty")) == 1
    assert "holds no dataset" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--help"])
def test_recover_help(flag: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        run_recover(flag)
    assert exc.value.code == 0 and "--discard" in capsys.readouterr().out
