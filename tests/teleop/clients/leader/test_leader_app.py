"""The leader app against a loopback server on a fake follower (``FakeRobot`` records
every target it got) and an emulated leader in its own process: refusal, ease-in,
e-stop, a pulled leader cable, a stall, a reconnect and force feedback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from leaderkit import (
    FAKE_HOME,
    GRIPPER_STEP,
    Proxy,
    Sent,
    ease_steps,
    leader_arm,
    leader_ticks,
    moved,
    run,
    running,
    until,
    within,
)
from serverkit import moves, serving
from timing import MS

from robots.fake import FakeRobot
from robots.serial import registers as reg
from teleop.client import TeleopClient
from teleop.clients.leader.engage import Phase
from teleop.clients.leader.feedback import FeedbackConfig
from teleop.clients.leader.status import format_status

STEP = np.array([0.05] * 5 + [GRIPPER_STEP])
SLACK = 1e-6


def follower(robot: FakeRobot) -> np.ndarray:
    return robot.read().q


def test_a_mismatch_sends_nothing_and_names_the_joint_then_moving_closer_engages() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        with leader_arm(moved({2: FAKE_HOME[2] - 1.0}, FAKE_HOME)) as hand:
            async with serving(robot) as (_, url):
                since, hold = len(robot.sent), follower(robot)
                sent = Sent()
                async with running(url, hand.path, sent=sent) as app:
                    await until(lambda: app.status.phase is Phase.MISMATCH, 10, "a mismatch")
                    await asyncio.sleep(1000 * MS)
                    assert len(sent) == 0 and moves(robot, since, hold) < 1e-9
                    line = format_status(app.status)
                    assert "NOT ENGAGED: elbow_flex is 1.00 rad off" in line, line
                    hand.move(leader_ticks(moved({2: FAKE_HOME[2] - 0.5}, FAKE_HOME)))
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                phases = sent.phases
                easing = phases.index(Phase.FOLLOWING)
                assert easing >= 9 and set(phases[:easing]) == {Phase.EASING}
                assert np.all(ease_steps(sent.targets[: easing + 1], hold) <= STEP + SLACK)

    run(scenario())


def test_the_estop_stops_sending_and_its_reset_compares_again() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        with leader_arm(FAKE_HOME) as hand:
            async with serving(robot) as (_, url), TeleopClient(url, role="observer") as obs:
                sent = Sent()
                async with running(url, hand.path, sent=sent) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                    await obs.estop()
                    await until(lambda: app.status.estop, 5, "the app to see the e-stop")
                    count = len(sent)
                    hand.move(leader_ticks(moved({0: 1.0}, FAKE_HOME)))  # moved while stopped
                    await asyncio.sleep(500 * MS)
                    assert len(sent) == count
                    await app.reset_estop()
                    await until(lambda: app.status.phase is Phase.MISMATCH, 5, "a mismatch")
                    assert app.status.mismatch.startswith("shoulder_pan is 1.00 rad off")
                    assert len(sent) == count
                    hand.move(leader_ticks(moved({0: 0.4}, FAKE_HOME)))
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                after = sent.targets[count:]
                assert np.all(ease_steps(after, FAKE_HOME) <= STEP + 1e-3)
                assert sent.phases[count] is Phase.EASING

    run(scenario())


def test_a_pulled_leader_cable_stops_commands_and_the_follower_holds_until_it_is_back(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        with leader_arm(FAKE_HOME, link=tmp_path / "leader") as hand:
            async with serving(robot) as (_, url), TeleopClient(url, role="observer") as obs:
                sent = Sent()
                async with running(url, hand.path, sent=sent, reopen_s=0.2) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                    holds = (await obs.wait_state(lambda s: True)).safety["watchdog_holds"]
                    hand.pull_cable()
                    await until(lambda: app.leader_fault is not None, 5, "a leader fault")
                    count = len(sent)
                    await obs.wait_state(lambda s: s.safety["watchdog_holds"] > holds, 5.0)
                    hand.move(leader_ticks(moved({1: 0.3}, FAKE_HOME)))
                    await asyncio.sleep(500 * MS)
                    assert len(sent) == count
                    assert "LEADER BUS FAULT" in format_status(app.status)
                    assert "RobotDisconnectedError" in (app.leader_fault or "")
                    held = follower(robot)
                    hand.plug_cable()
                    await until(lambda: app.leader_fault is None, 10, "the leader back")
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                after = sent.targets[count:]
                assert sent.phases[count] is Phase.EASING
                assert np.all(ease_steps(after, held) <= STEP + 1e-3)
                assert within(after[-1], moved({1: 0.3}, FAKE_HOME), 1e-3)

    run(scenario())


def test_a_stall_longer_than_the_watchdog_eases_in_again() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        with leader_arm(FAKE_HOME) as hand:
            async with serving(robot) as (_, url):
                sent = Sent()
                async with running(url, hand.path, sent=sent) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                    await asyncio.sleep(0.3)

                    def stall() -> None:  # the hand moves while this process is stuck
                        hand.move(leader_ticks(moved({0: 0.3}, FAKE_HOME)))
                        time.sleep(0.4)

                    count = len(sent)
                    sent.stall = stall
                    await until(lambda: len(sent) > count + 1, 5, "a send after the stall")
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                first = sent.targets[count + 1]
                assert sent.phases[count + 1] is Phase.EASING
                assert within(first, FAKE_HOME, 0.05 + 1e-3), first  # not the leader's 0.3

    run(scenario())


def test_a_reconnect_starts_from_scratch_and_never_sends_a_stale_target() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=())
        with leader_arm(FAKE_HOME) as hand:
            async with serving(robot) as (server, _), Proxy(server.port) as proxy:
                sent = Sent()
                url = f"ws://127.0.0.1:{proxy.port}"
                async with running(url, hand.path, sent=sent, backoff_initial_s=0.2) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                    proxy.cut()
                    hand.move(leader_ticks(moved({0: 0.3}, FAKE_HOME)))
                    await until(lambda: app.connections == 2, 10, "a reconnect")
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                targets, phases = sent.of_connection(2)
                assert phases[0] is Phase.EASING
                assert np.all(ease_steps(targets, FAKE_HOME) <= STEP + 1e-3)
                assert within(targets[-1], moved({0: 0.3}, FAKE_HOME), 1e-3)

    run(scenario())


def test_feedback_pushes_the_leader_gripper_only_while_the_follower_grasps() -> None:
    async def scenario() -> None:
        robot = FakeRobot(cameras=(), contact_force_n=5.0)  # grasps below opening 0.2
        with leader_arm(FAKE_HOME) as hand:
            async with serving(robot) as (_, url):
                cfg = FeedbackConfig(gain_per_n=10.0, push_ticks=40)
                async with running(url, hand.path, feedback=cfg) as app:
                    await until(lambda: app.status.phase is Phase.FOLLOWING, 10, "following")
                    assert hand.register(6, reg.TORQUE_ENABLE) == 0
                    for opening in (0.8, 0.6, 0.4, 0.2, 0.1):  # the operator closes the jaws
                        hand.move(leader_ticks(moved({5: opening}, FAKE_HOME)))
                        await asyncio.sleep(0.15)
                    squeeze = leader_ticks(moved({5: 0.1}, FAKE_HOME))[6]
                    hand.sweep({6: (squeeze, 0.0, 1.0)})  # and holds them there
                    await until(lambda: hand.register(6, reg.TORQUE_ENABLE), 5, "a push")
                    torque = [hand.register(i, reg.TORQUE_ENABLE) for i in range(1, 7)]
                    assert torque == [0, 0, 0, 0, 0, 1]
                    assert hand.register(6, reg.TORQUE_LIMIT) == 50  # 5 N x 10 per N
                    assert hand.register(6, reg.GOAL_POSITION) == round(squeeze) - 40  # open
                    shown = "grasp  5.0 N | push  5.0 %"
                    await until(lambda: shown in format_status(app.status), 2, "the status")
                    hand.stop_sweep()
                    hand.move(leader_ticks(moved({5: 0.8}, FAKE_HOME)))
                    await until(lambda: not hand.register(6, reg.TORQUE_ENABLE), 5, "release")

    run(scenario())
