"""The ``state`` message built from a snapshot of the control loop: pure, no server."""

from __future__ import annotations

import math

import numpy as np

from robots.base import RobotState
from teleop.control import LoopSnapshot
from teleop.protocol import LoopStats, RecordingInfo, decode_from_server, encode
from teleop.safety import SafetyCounters
from teleop.server.streams import state_message
from teleop.tickstats import LoopStats as TickLoopStats

STATS = TickLoopStats(rate_hz=99.5, jitter_p99_ms=0.4, overruns=2, overrun_fraction=0.01, ticks=200)


def snapshot(state: RobotState, *, seq: int | None = 7, fault: str | None = None) -> LoopSnapshot:
    return LoopSnapshot(
        state=state,
        target=np.array([0.1, 0.2, 0.5]),
        seq=seq,
        estop=True,
        hold="none",
        safety=SafetyCounters(watchdog_holds=3),
        fault=fault,
    )


def test_state_carries_the_reading_the_loop_and_the_recording() -> None:
    reading = RobotState(
        t_ns=123, q=np.array([0.1, -0.2, 0.5]), dq=np.zeros(3), tau=np.array([1.0, 2.0, 3.0]),
        ee_force=np.array([0.0, 0.0, -4.0]), grasp_force=2.5, faults=("overload:elbow",),
    )  # fmt: skip
    recording = RecordingInfo(True, 4, 1.5, 45)
    state = state_message(snapshot(reading, fault="bus timeout"), STATS, recording, 999)
    assert (state.t_ns, state.seq, state.estop, state.t_client_ns) == (123, 7, True, 999)
    assert state.q == (0.1, -0.2, 0.5) and state.tau == (1.0, 2.0, 3.0)
    assert state.ee_force == (0.0, 0.0, -4.0) and state.grasp_force == 2.5
    assert state.recording == recording
    assert state.loop == LoopStats(99.5, 0.4, 2)
    assert state.safety["watchdog_holds"] == 3
    assert state.faults == ("overload:elbow", "bus timeout")


def test_a_nan_reading_still_gives_a_state_that_encodes() -> None:
    reading = RobotState(
        t_ns=5, q=np.array([math.nan, 0.0, 1.0]), dq=np.array([0.0, math.inf, 0.0]),
        tau=np.zeros(3), ee_force=np.zeros(3), grasp_force=math.nan,
    )  # fmt: skip
    state = state_message(snapshot(reading, seq=None), STATS, RecordingInfo())
    assert state.q[0] == 0.0 and state.grasp_force == 0.0 and math.isfinite(state.dq[1])
    assert state.seq is None and state.t_client_ns is None
    for binary in (True, False):
        assert decode_from_server(encode(state, binary)) == state
