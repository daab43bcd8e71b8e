"""The deadman gate, the force-to-rumble curve and the status line: pure, no pygame."""

from __future__ import annotations

import pytest

from teleop.clients.gamepad.errors import MappingError
from teleop.clients.gamepad.feedback import RumbleConfig, contact_force_n, rumble_strength
from teleop.clients.gamepad.gate import Drive, DriveGate
from teleop.clients.gamepad.mapping import Intent
from teleop.clients.gamepad.status import Link, Status, format_status
from teleop.protocol import RecordingInfo, State

PERIOD_S = 0.02
FORWARD = (0.1, 0.0, 0.0)
ZERO = (0.0, 0.0, 0.0)


def intent(deadman: bool, device_id: int = 1, gripper: float = 0.7) -> Intent:
    linear = FORWARD if deadman else ZERO
    return Intent(linear, ZERO, gripper, deadman, (), device_id)


def armed_gate() -> DriveGate:
    """A gate that has seen the deadman released, so a press drives."""
    gate = DriveGate(PERIOD_S)
    gate.step(0.0, intent(False), allowed=True)
    gate.step(0.0, intent(False), allowed=True)
    assert gate.state is Drive.IDLE
    return gate


def test_gate_starts_locked_and_a_held_deadman_does_not_drive() -> None:
    gate = DriveGate(PERIOD_S)
    for k in range(10):
        assert gate.step(k * 0.01, intent(True), allowed=True) is None
    assert gate.state is Drive.LOCKED


def test_press_sends_at_once_then_at_the_send_rate() -> None:
    gate = armed_gate()
    sent = [gate.step(k * 0.01, intent(True), allowed=True) for k in range(10)]  # 100 Hz polls
    commands = [s for s in sent if s is not None]
    assert sent[0] is not None
    assert len(commands) == 5  # 50 Hz over 0.1 s
    assert all(c.deadman and c.linear == FORWARD and c.gripper == 0.7 for c in commands)


def test_release_sends_one_stop_then_nothing() -> None:
    gate = armed_gate()
    gate.step(0.0, intent(True), allowed=True)
    stop = gate.step(0.01, intent(False, gripper=0.3), allowed=True)
    assert stop is not None
    assert not stop.deadman and stop.linear == ZERO and stop.angular == ZERO
    assert stop.gripper == 0.3  # the gripper stays where the trigger is
    assert all(gate.step(0.02 + k * 0.01, intent(False), allowed=True) is None for k in range(20))
    assert gate.state is Drive.IDLE


def test_losing_the_pad_stops_sending_and_needs_a_fresh_press() -> None:
    gate = armed_gate()
    assert gate.step(0.0, intent(True), allowed=True) is not None
    assert gate.step(0.03, None, allowed=True) is None  # pad gone: no stop command either
    assert gate.state is Drive.LOCKED
    # The pad is back with the deadman still down: nothing until release and press.
    assert all(gate.step(0.1 + k * 0.01, intent(True), allowed=True) is None for k in range(10))
    assert gate.step(0.3, intent(False), allowed=True) is None
    assert gate.step(0.31, intent(True), allowed=True) is not None


def test_another_pad_locks_the_gate() -> None:
    gate = armed_gate()
    assert gate.step(0.0, intent(True, device_id=1), allowed=True) is not None
    assert gate.step(0.02, intent(True, device_id=2), allowed=True) is None
    assert gate.state is Drive.LOCKED


def test_not_allowed_locks_and_lock_needs_release() -> None:
    gate = armed_gate()
    gate.step(0.0, intent(True), allowed=True)
    assert gate.step(0.02, intent(True), allowed=False) is None  # e-stop latched
    assert gate.step(0.04, intent(True), allowed=True) is None  # reset: still locked
    gate.step(0.06, intent(False), allowed=True)
    assert gate.step(0.08, intent(True), allowed=True) is not None
    gate.lock()
    assert gate.step(0.10, intent(True), allowed=True) is None


def test_a_stall_does_not_cause_a_burst() -> None:
    gate = armed_gate()
    gate.step(0.0, intent(True), allowed=True)
    assert gate.step(0.5, intent(True), allowed=True) is not None
    assert gate.step(0.505, intent(True), allowed=True) is None


def test_gate_rejects_a_bad_period() -> None:
    with pytest.raises(ValueError, match="period_s"):
        DriveGate(0.0)


# -- rumble -----------------------------------------------------------------------------------


def state(ee_force: tuple[float, float, float], grasp: float = 0.0) -> State:
    zeros = (0.0,) * 6
    return State(0, zeros, zeros, zeros, ee_force, None, False, RecordingInfo(), grasp)


def test_contact_force_is_the_larger_of_ee_force_and_grasp() -> None:
    assert contact_force_n(state((3.0, 4.0, 0.0))) == pytest.approx(5.0)
    assert contact_force_n(state((0.0, 0.0, 0.5), grasp=7.0)) == 7.0
    assert contact_force_n(state((float("nan"), 0.0, 0.0))) == 0.0
    assert contact_force_n(None) == 0.0


def test_rumble_is_proportional_and_capped() -> None:
    config = RumbleConfig(force_min_n=1.0, force_full_n=11.0, max_strength=0.8)
    assert rumble_strength(0.5, config) == 0.0
    assert rumble_strength(1.0, config) == 0.0
    assert rumble_strength(6.0, config) == pytest.approx(0.4)
    assert rumble_strength(11.0, config) == pytest.approx(0.8)
    assert rumble_strength(500.0, config) == pytest.approx(0.8)
    assert rumble_strength(float("inf"), config) == 0.0


def test_rumble_config_checks() -> None:
    with pytest.raises(MappingError, match=r"rumble\.force_full_n"):
        RumbleConfig(force_min_n=5.0, force_full_n=5.0)
    with pytest.raises(MappingError, match=r"rumble\.force_min_n"):
        RumbleConfig(force_min_n=-1.0)


# -- status line ------------------------------------------------------------------------------


def test_status_line_while_driving_and_recording() -> None:
    line = format_status(
        Status(
            Link.CONNECTED,
            pad="Xbox 360 Controller",
            layout="xbox",
            lease=True,
            drive=Drive.DRIVING,
            force_n=3.24,
            recording=True,
            episode=2,
            elapsed_s=12.34,
        )
    )
    assert line == (
        "connected | pad: Xbox 360 Controller [xbox] | lease: yes | DRIVING | force  3.2 N"
        " | REC ep 2  12.3 s"
    )


def test_status_line_shows_retrying_missing_pad_and_estop() -> None:
    retrying = format_status(Status(Link.RETRYING, retry_in_s=2.0, note="connection closed"))
    assert retrying.startswith("disconnected, retrying in 2.0 s | pad: none (plug one in)")
    assert retrying.endswith("connection closed")
    latched = format_status(Status(Link.CONNECTED, pad="p", layout="xbox", estop=True))
    assert "E-STOP LATCHED" in latched and "release deadman" in latched
