"""The server killed with SIGKILL mid-episode and mid-save (issue 8, rows 7 and 10).

Row 7 pass criterion: after ``kill -9`` mid-episode and ``teleop recover``, earlier
episodes pass ``teleop verify``, and the partial episode is recovered up to its last
flush and marked incomplete.

Row 10 pass criterion: killed at points during ``record stop``'s save, the dataset is
never left unreadable: the episode is either whole, or ``teleop recover`` makes it an
incomplete one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest

from teleop.client import TeleopClient

TELEOP = [sys.executable, "-m", "teleop.cli"]


def _serve(record_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*TELEOP, "serve", "--robot", "fake", "--port", "0", "--record-dir", str(record_dir),
         "--dataset", "ds"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if match := re.search(r"serving on http://(\S+?)/?$", line.strip()):
            return proc, f"ws://{match.group(1)}"
    raise AssertionError("teleop serve exited before serving")


def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the server and its children (the video encoder) at once."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


async def _record(url: str, episodes: list[float], then_stop: bool, kill_after_s: float | None,
                  proc: subprocess.Popen[str]) -> None:  # fmt: skip
    async with TeleopClient(url, name="op", timeout_s=10) as op:
        await op.request_lease()
        home = np.array((await op.wait_state(lambda s: True)).q)
        for k, seconds in enumerate(episodes):
            await op.record_start(f"episode {k}")
            t0 = time.monotonic()
            while (t := time.monotonic() - t0) < seconds:
                q = home.copy()
                q[0] += 0.3 * np.sin(2 * t)
                await op.send_joints(q)
                await asyncio.sleep(0.01)
            last = k == len(episodes) - 1
            if not last or then_stop:
                if last and kill_after_s is not None:
                    await op.record_stop(True, wait=False)
                    await asyncio.sleep(kill_after_s)
                    _kill(proc)
                    return
                await op.record_stop(True)
        if kill_after_s is not None:
            _kill(proc)


def _recover(dataset: Path) -> str:
    done = subprocess.run([*TELEOP, "recover", str(dataset)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loadable(dataset: Path) -> dict[str, object]:
    """Read the dataset back as a loader would; return info.json."""
    info = json.loads((dataset / "meta" / "info.json").read_text())
    episodes = pq.read_table(dataset / "meta" / "episodes").to_pydict()
    assert len(episodes["episode_index"]) == info["total_episodes"]
    data = sorted((dataset / "data").rglob("*.parquet"))
    assert sum(pq.read_table(p).num_rows for p in data) == info["total_frames"]
    for video in sorted((dataset / "videos").rglob("*.mp4")):
        with av.open(str(video)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        index = int(video.stem.split("-")[1])
        assert frames == episodes["length"][index], video
    return info


def test_7_kill_9_mid_episode_then_recover_keeps_earlier_episodes_verified(
    tmp_path: Path,
) -> None:
    proc, url = _serve(tmp_path)
    asyncio.run(_record(url, [1.5, 2.0], then_stop=False, kill_after_s=0.0, proc=proc))
    dataset = tmp_path / "ds"
    assert (dataset / "meta" / "info.json").exists()
    # The first episode was checked and signed when it was saved.
    before = json.loads((dataset / "meta" / "info.json").read_text())["total_episodes"]
    assert before == 1
    _recover(dataset)
    info = _loadable(dataset)
    assert info["total_episodes"] == 2
    episodes = pq.read_table(dataset / "meta" / "episodes").to_pydict()
    complete = next(c for k, c in episodes.items() if k.endswith("complete"))
    assert complete == [True, False]
    assert episodes["length"][1] > 30  # recovered up to the last flush (~2 s at 30 fps)
    verify = subprocess.run([*TELEOP, "verify", str(dataset), "--json"], capture_output=True,
                            text=True)  # fmt: skip
    report = json.loads(verify.stdout)
    first = report["episodes"][0]
    assert first["manifest"] == "ok" and first["intact"], first


@pytest.mark.parametrize("kill_after_s", [0.0, 0.05, 0.15, 0.3, 0.6])
def test_10_kill_during_save_never_leaves_the_dataset_unreadable(
    tmp_path: Path, kill_after_s: float
) -> None:
    proc, url = _serve(tmp_path)
    asyncio.run(_record(url, [1.0, 1.5], then_stop=True, kill_after_s=kill_after_s, proc=proc))
    dataset = tmp_path / "ds"
    _recover(dataset)
    info = _loadable(dataset)
    assert info["total_episodes"] == 2, "the episode being saved was lost"
