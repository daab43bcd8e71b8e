"""The contribution ledger end to end: ``teleop serve`` accounts the hours, ``teleop ledger``
shows them (issue 17, item 1).

An operator who holds the lease, drives, records an episode and leaves must show up with
their teleoperation time (lease held), their active time (arm moving) and their episode
tied to that session. So must one still connected when the server is stopped with
Ctrl-C. An observer, who never held the lease, is not a contributor.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from teleop.client import TeleopClient

TELEOP = [sys.executable, "-m", "teleop.cli"]


def _serve(record_dir: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [*TELEOP, "serve", "--robot", "fake", "--port", "0", "--record-dir",
             str(record_dir), "--dataset", "ds"],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if match := re.search(r"serving on http://(\S+?)/?$", line.strip()):
            return proc, f"ws://{match.group(1)}"
    raise AssertionError("teleop serve exited before serving")


async def _drive(client: TeleopClient, seconds: float) -> None:
    """Wave the first joint for ``seconds``, fast enough to count as moving."""
    home = np.array((await client.wait_state(lambda s: True)).q)
    t0 = time.monotonic()
    while (t := time.monotonic() - t0) < seconds:
        q = home.copy()
        q[0] += 0.3 * np.sin(3 * t)
        await client.send_joints(q)
        await asyncio.sleep(0.01)


async def _sessions(url: str) -> tuple[float, float]:
    """Alice drives and records, Bob watches; Carol drives and is still there at the end.

    Returns:
        How long Alice held the lease at most, in [s], and when Carol took it (on
        ``time.monotonic()``).
    """
    async with TeleopClient(url, name="alice", timeout_s=10) as alice:
        t0 = time.monotonic()
        await alice.request_lease()
        await _drive(alice, 1.0)
        await alice.record_start("wave")
        await _drive(alice, 1.5)
        await alice.record_stop(True)
        await _drive(alice, 0.5)
        alice_s = time.monotonic() - t0
    async with TeleopClient(url, name="bob", role="observer", timeout_s=10) as bob:
        await bob.wait_state(lambda s: True)
    carol = TeleopClient(url, name="carol", timeout_s=10)
    await carol.connect()
    carol_t0 = time.monotonic()
    await carol.request_lease()
    await _drive(carol, 1.0)
    return alice_s, carol_t0


def _ledger(record_dir: Path) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [*TELEOP, "ledger", "--record-dir", str(record_dir), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


def test_teleoperation_hours_reach_the_ledger(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc, url = _serve(tmp_path / "rec", log)
    try:
        alice_s, carol_t0 = asyncio.run(_sessions(url))
        # Carol is still connected: Ctrl-C must account her session too. She holds the
        # lease until the server has closed her connection, before it exits.
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        carol_s = time.monotonic() - carol_t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # A fresh dataset, a normal session: nothing for the terminal to call an error.
    errors = [line for line in log.read_text().splitlines() if " ERROR " in line]
    assert errors == []
    rows = _ledger(tmp_path / "rec")
    assert "bob" not in rows, "an observer never held the lease and contributed nothing"
    alice, carol = rows["alice"], rows["carol"]
    assert alice["sessions"] == 1 and carol["sessions"] == 1
    # The lease is held from the grant to the disconnect; the client's own clock brackets it.
    assert 0.8 * alice_s <= alice["lease_held_s"] <= alice_s + 1.0
    assert 1.0 <= carol["lease_held_s"] <= carol_s
    # Alice waved for 3 of her seconds (paused while the episode was saved).
    assert 1.5 <= alice["active_s"] <= alice["lease_held_s"]
    assert 0.5 <= carol["active_s"] <= carol["lease_held_s"]
    assert alice["episodes_accepted"] + alice["episodes_rejected"] == 1

    with sqlite3.connect(tmp_path / "rec" / "ledger.sqlite3") as db:
        ((session_id,),) = db.execute(
            "SELECT s.id FROM sessions s JOIN contributors c ON c.id = s.contributor_id "
            "WHERE c.name = 'alice'"
        ).fetchall()
        episodes = db.execute("SELECT session_id FROM episodes").fetchall()
        open_sessions = db.execute("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL")
        assert open_sessions.fetchone() == (0,)
    assert episodes == [(session_id,)], "the episode names the session it was recorded in"
