"""End to end: an emulated follower behind ``teleop serve --robot so101`` (a subprocess),
and the leader client reading a second emulated arm (its own process). Both emulators
serve real pseudo-terminals; the follower's ticks go through its own calibration on the
server, the leader's through the leader's here."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from leaderkit import (
    GRIPPER_STEP,
    LEADER,
    Sent,
    Station,
    ease_steps,
    follower_q,
    leader_arm,
    leader_ticks,
    moved,
    observer,
    release_estop,
    run,
    running,
    settled,
    until,
    within,
)
from timing import MS, SCALE

from robots.serial import registers as reg
from teleop.client import TeleopClient
from teleop.clients.leader.engage import Phase
from teleop.clients.leader.feedback import FeedbackConfig

STEP = np.array([0.05] * 5 + [GRIPPER_STEP])
TRACKING_TOL = 0.02
"""Follower vs leader after settling, [rad] (a few ticks of either calibration)."""


def test_the_follower_eases_in_then_tracks_the_leader(station: Station) -> None:
    async def scenario() -> None:
        await release_estop(station.url)
        async with observer(station.url) as obs:
            q0 = await settled(obs)
            start = q0 + np.array([0.0, 0.4, -0.3, 0.2, 0.0, 0.2])
            with leader_arm(start) as hand:
                sent = Sent()
                async with running(station.url, hand.path, sent=sent) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 15, "following")
                    engaged = sent.phases.index(Phase.FOLLOWING)
                    assert engaged >= 7 and set(sent.phases[:engaged]) == {Phase.EASING}
                    assert np.all(ease_steps(sent.targets[: engaged + 1], q0) <= STEP + 1e-3)
                    # The operator moves the arm: small steps, as a hand does at 20 Hz.
                    path = [start + k / 20 * np.array([0.5, -0.6, 0.6, -0.4, 0.8, 0.3])
                            for k in range(1, 21)]  # fmt: skip
                    for pose in path:
                        hand.move(leader_ticks(pose))
                        await asyncio.sleep(0.05)
                    final = LEADER.to_q([round(t) for t in leader_ticks(path[-1]).values()])
                    await obs.wait_state(lambda s: within(s.q, final, TRACKING_TOL), 10.0)
                    assert app.status.phase is Phase.FOLLOWING
                    assert app.leader_fault is None

    run(scenario())


def test_a_startup_mismatch_is_refused_naming_the_joint_and_nothing_moves(
    station: Station,
) -> None:
    async def scenario() -> None:
        await release_estop(station.url)
        async with observer(station.url) as obs:
            q0 = await settled(obs)
            off = 1.2 if q0[2] < 0.2 else -1.2
            with leader_arm(moved({2: q0[2] + off}, q0)) as hand:
                sent = Sent()
                async with running(station.url, hand.path, sent=sent) as app:
                    await until(lambda: app.status.phase is Phase.MISMATCH, 15, "a mismatch")
                    await asyncio.sleep(1000 * MS)
                    assert len(sent) == 0
                    assert app.status.mismatch.startswith("elbow_flex is 1.20 rad off")
                    assert within(follower_q(obs), q0, 0.005)
                    closer = moved({2: q0[2] + off / 2}, q0)
                    hand.move(leader_ticks(closer))
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 15, "following")
                    await obs.wait_state(lambda s: within(s.q, closer, TRACKING_TOL), 10.0)
                assert np.all(ease_steps(sent.targets, q0) <= STEP + 1e-3)

    run(scenario())


def test_feedback_pushes_back_on_the_leaders_gripper_while_the_follower_grasps(
    station: Station,
) -> None:
    """The follower's jaws close on an object (an obstacle in its emulator), its grasp
    force comes back in ``state``, and the leader's gripper servo alone gets torque."""

    async def scenario() -> None:
        await release_estop(station.url)
        async with observer(station.url) as obs:
            q0 = await settled(obs)
            with leader_arm(q0) as hand:
                cfg = FeedbackConfig(gain_per_n=10.0, max_limit=150, push_ticks=40)
                async with running(station.url, hand.path, feedback=cfg) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 15, "following")
                    for opening in np.linspace(q0[-1], 0.0, 12):  # close the jaws
                        hand.move(leader_ticks(moved({5: opening}, q0)))
                        await asyncio.sleep(0.05)
                    squeeze = leader_ticks(moved({5: 0.0}, q0))[6]
                    hand.sweep({6: (squeeze, 0.0, 1.0)})  # and keep squeezing
                    state = await obs.wait_state(lambda s: s.grasp_force > 10.0, 10.0)
                    assert state.q[-1] > 0.15  # the object keeps the jaws apart
                    await until(lambda: hand.register(6, reg.TORQUE_ENABLE), 5, "a push")
                    torque = [hand.register(i, reg.TORQUE_ENABLE) for i in range(1, 7)]
                    assert torque == [0, 0, 0, 0, 0, 1]
                    assert 100 <= hand.register(6, reg.TORQUE_LIMIT) <= 150  # capped
                    hand.stop_sweep()
                    hand.move(leader_ticks(moved({5: 0.6}, q0)))
                    await until(lambda: not hand.register(6, reg.TORQUE_ENABLE), 5, "release")
                    await obs.wait_state(lambda s: s.grasp_force == 0.0, 10.0)

    run(scenario())


def _lines_until(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s * SCALE
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            lines.append(proc.stdout.readline())
            if needle in lines[-1]:
                return lines
    raise AssertionError(f"no {needle!r} within {timeout_s} s; got {lines}")


def test_the_cli_names_the_joint_that_is_off_resets_the_estop_and_stops_on_sigint(
    station: Station, tmp_path: Path
) -> None:
    async def follower_now() -> np.ndarray:
        await release_estop(station.url)
        async with observer(station.url) as obs:
            return await settled(obs)

    async def trigger_estop() -> None:
        async with TeleopClient(station.url, role="observer", name="test-estop") as client:
            await client.estop()

    q0 = run(follower_now())
    LEADER.save(tmp_path / "leader.json")
    off = 1.0 if q0[3] < 0.3 else -1.0
    with leader_arm(moved({3: q0[3] + off}, q0)) as hand:
        proc = subprocess.Popen(
            [sys.executable, "-m", "teleop.cli", "leader", "--serial-port", hand.path,
             "--url", station.url, "--calibration", str(tmp_path / "leader.json")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert proc.stdin is not None
        try:
            lines = _lines_until(proc, "NOT ENGAGED", 60.0)
            assert "wrist_flex is 1.00 rad off" in lines[-1], lines[-1]
            assert "move the leader's wrist_flex toward the follower" in lines[-1]
            run(trigger_estop())
            _lines_until(proc, "E-STOP LATCHED", 10.0)
            proc.stdin.write("reset\n")
            proc.stdin.flush()
            _lines_until(proc, "e-stop reset: the leader compares", 10.0)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        run(release_estop(station.url))
