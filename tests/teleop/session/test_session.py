"""The session hub: hello, roles, the lease, seq, the e-stop latch, recording, floods."""

from __future__ import annotations

import json

import msgpack
import pytest

from teleop.errors import ConfigError, ProtocolError, UnknownClientError
from teleop.protocol import (
    ClientMessage,
    ErrorCode,
    ErrorReply,
    Estop,
    EstopAction,
    EstopStatus,
    Hello,
    JointsCommand,
    Lease,
    LeaseAction,
    LeaseStatus,
    Ping,
    Pong,
    Record,
    RecordAction,
    RecordStatus,
    RobotInfo,
    Role,
    VelocityCommand,
    Welcome,
)
from teleop.session import EstopState, Hub, HubConfig, RecordState
from teleop.session.auth import Identity
from teleop.session.effects import (
    ApplyCommand,
    ClientLeft,
    ClientPhase,
    DiscardRecording,
    Disconnect,
    LeaseChanged,
    Outcome,
    ResetEstop,
    StartRecording,
    StopRecording,
    TriggerEstop,
)

ROBOT = RobotInfo(
    name="fake",
    joint_names=("shoulder", "elbow", "gripper"),
    lower=(-1.0, -1.0, 0.0),
    upper=(1.0, 1.0, 1.0),
    max_velocity=(2.0, 2.0, 2.0),
    max_effort=(5.0, 5.0, 20.0),
    cameras=("front",),
)
S = 1_000_000_000  # one second in [ns]
ADMIN = Identity("token:0123456789ab", is_admin=True)

REQUEST = Lease(LeaseAction.REQUEST)
RELEASE = Lease(LeaseAction.RELEASE)
TRIGGER = Estop(EstopAction.TRIGGER)
RESET = Estop(EstopAction.RESET)


def cmd(seq: int) -> JointsCommand:
    return JointsCommand(seq, (0.1, 0.2, 0.5))


@pytest.fixture
def hub() -> Hub:
    return Hub(HubConfig(ROBOT, rate_hz=200.0))


def join(hub: Hub, role: Role, name: str, identity: Identity | None = None, t: int = 0) -> int:
    client_id = hub.connect(identity or Identity(), t)
    out = hub.receive(client_id, Hello(role, name), t)
    assert isinstance(out.replies[0], Welcome)
    return client_id


def operator_with_lease(hub: Hub, name: str = "alice", t: int = 0) -> int:
    client_id = join(hub, Role.OPERATOR, name, t=t)
    assert hub.receive(client_id, REQUEST, t).replies[0] == LeaseStatus(client_id, True, name)
    return client_id


def error_code(out: Outcome) -> ErrorCode | str:
    errors = [r for r in out.replies if isinstance(r, ErrorReply)]
    assert len(errors) == 1, out
    return errors[0].code


def applied(out: Outcome) -> list[ApplyCommand]:
    return [e for e in out.effects if isinstance(e, ApplyCommand)]


# --- hello --------------------------------------------------------------------------------


def test_welcome_tells_the_client_what_it_needs(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    hub.receive(alice, TRIGGER, 0)
    bob = hub.connect(Identity(), 5)
    out = hub.receive(bob, Hello(Role.OBSERVER, "  bob "), 5)
    assert out.client_id == bob
    assert out.replies == [Welcome(1, bob, 200.0, ROBOT, Role.OBSERVER, alice, "alice", estop=True)]
    assert hub.ready_clients() == [alice, bob]


def test_hello_is_required_first(hub: Hub) -> None:
    c = hub.connect(Identity(), 0)
    refused: list[ClientMessage] = [cmd(1), REQUEST, Record(RecordAction.START), RESET]
    for msg in refused:
        out = hub.receive(c, msg, 0)
        assert error_code(out) is ErrorCode.NOT_READY
        assert out.effects == []
    assert hub.receive(c, Ping(7), 0).replies == [Pong(0, 7)]
    assert hub.ready_clients() == []


def test_estop_trigger_works_even_before_hello(hub: Hub) -> None:
    c = hub.connect(Identity(), 0)
    out = hub.receive(c, TRIGGER, 0)
    assert [type(e) for e in out.effects] == [TriggerEstop]
    assert hub.estop is EstopState.LATCHED


def test_second_hello_and_wrong_protocol_are_refused(hub: Hub) -> None:
    c = join(hub, Role.OBSERVER, "o")
    assert error_code(hub.receive(c, Hello(Role.OPERATOR, "o"), 0)) is ErrorCode.BAD_STATE
    d = hub.connect(Identity(), 0)
    out = hub.receive(d, Hello(Role.OPERATOR, "d", protocol=2), 0)
    assert error_code(out) is ErrorCode.UNSUPPORTED_PROTOCOL
    assert error_code(hub.receive(d, REQUEST, 0)) is ErrorCode.NOT_READY


def test_poll_disconnects_clients_that_never_say_hello(hub: Hub) -> None:
    silent = hub.connect(Identity(), 0)
    polite = join(hub, Role.OBSERVER, "p")
    assert hub.poll(4 * S).effects == []
    out = hub.poll(6 * S)
    assert out.effects == [Disconnect(silent, 1008, "no hello within 5 s")]
    assert hub.info(silent, 6 * S).phase is ClientPhase.CLOSING
    assert hub.receive(silent, Hello(Role.OPERATOR, "late"), 6 * S) == Outcome(silent)
    assert hub.poll(7 * S).effects == []  # decided once
    assert hub.ready_clients() == [polite]


# --- the lease ----------------------------------------------------------------------------


def test_first_operator_gets_the_lease_and_everyone_hears(hub: Hub) -> None:
    watcher = join(hub, Role.OBSERVER, "w")
    alice = join(hub, Role.OPERATOR, "alice")
    out = hub.receive(alice, REQUEST, 0)
    assert out.replies == [LeaseStatus(alice, True, "alice")]
    assert out.broadcast == [LeaseStatus(alice, False, "alice")]
    assert out.effects == [LeaseChanged(alice, None)]
    assert hub.holder == alice
    assert watcher != alice


def test_second_operator_is_refused_and_told_who_holds_it(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    bob = join(hub, Role.OPERATOR, "bob", t=3 * S)
    out = hub.receive(bob, REQUEST, 3 * S)
    assert out.replies[0] == LeaseStatus(alice, False, "alice")
    error = out.replies[1]
    assert isinstance(error, ErrorReply)
    assert error.code is ErrorCode.LEASE_HELD
    assert f"client {alice} ('alice')" in error.message
    assert out.broadcast == [] and out.effects == []
    assert hub.holder == alice


def test_asking_again_keeps_the_lease_quietly(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    out = hub.receive(alice, REQUEST, 1)
    assert out.replies == [LeaseStatus(alice, True, "alice")]
    assert out.broadcast == [] and out.effects == []


def test_release_frees_the_lease_for_the_next_operator(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    bob = join(hub, Role.OPERATOR, "bob")
    assert error_code(hub.receive(bob, RELEASE, 0)) is ErrorCode.NO_LEASE
    out = hub.receive(alice, RELEASE, 1)
    assert out.replies == [LeaseStatus(None, False)]
    assert out.broadcast == [LeaseStatus(None, False)]
    assert out.effects == [LeaseChanged(None, alice)]
    assert hub.receive(bob, REQUEST, 2).replies == [LeaseStatus(bob, True, "bob")]


def test_disconnect_releases_the_lease(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    bob = join(hub, Role.OPERATOR, "bob")
    out = hub.disconnect(alice, 2 * S)
    assert out.client_id is None
    assert out.broadcast == [LeaseStatus(None, False)]
    assert out.effects[0] == LeaseChanged(None, alice)
    left = out.effects[-1]
    assert isinstance(left, ClientLeft)
    assert (left.info.client_id, left.info.lease_held_s) == (alice, 2.0)
    assert hub.holder is None
    assert hub.ready_clients() == [bob]
    assert hub.receive(bob, REQUEST, 3 * S).replies == [LeaseStatus(bob, True, "bob")]


def test_admin_takes_the_lease_over_with_force(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    admin = join(hub, Role.OPERATOR, "root", identity=ADMIN)
    assert error_code(hub.receive(admin, REQUEST, 1)) is ErrorCode.LEASE_HELD
    out = hub.receive(admin, Lease(LeaseAction.REQUEST, force=True), 1)
    assert out.replies == [LeaseStatus(admin, True, "root")]
    assert out.broadcast == [LeaseStatus(admin, False, "root")]
    assert out.effects == [LeaseChanged(admin, alice)]
    assert error_code(hub.receive(alice, cmd(99), 2)) is ErrorCode.NO_LEASE


def test_force_without_the_admin_token_is_unauthorized(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    mallory = join(hub, Role.OPERATOR, "mallory", identity=Identity("token:ffffffffffff"))
    out = hub.receive(mallory, Lease(LeaseAction.REQUEST, force=True), 1)
    assert error_code(out) is ErrorCode.UNAUTHORIZED
    assert hub.holder == alice


def test_lease_time_is_counted_per_client(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice", t=1 * S)
    hub.receive(alice, RELEASE, 4 * S)
    hub.receive(alice, REQUEST, 10 * S)
    assert hub.info(alice, 12 * S).lease_held_s == pytest.approx(5.0)
    assert hub.info(alice, 12 * S).principal == "anonymous"


# --- roles --------------------------------------------------------------------------------


def test_observer_cannot_lease_command_record_or_reset(hub: Hub) -> None:
    operator_with_lease(hub)
    o = join(hub, Role.OBSERVER, "o")
    refused: list[ClientMessage] = [
        REQUEST,
        RELEASE,
        cmd(1),
        Record(RecordAction.START, "t"),
        RESET,
    ]
    for msg in refused:
        out = hub.receive(o, msg, 0)
        assert error_code(out) is ErrorCode.FORBIDDEN_ROLE, msg
        assert out.effects == []


def test_operator_without_the_lease_cannot_command_or_record(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    bob = join(hub, Role.OPERATOR, "bob")
    out = hub.receive(bob, cmd(1), 0)
    assert error_code(out) is ErrorCode.NO_LEASE
    assert f"client {alice} ('alice') holds it" in out.replies[0].message  # type: ignore[union-attr]
    assert error_code(hub.receive(bob, Record(RecordAction.START), 0)) is ErrorCode.NO_LEASE
    assert applied(out) == []


# --- commands -----------------------------------------------------------------------------


def test_the_holder_commands_the_arm(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    vel = VelocityCommand(2, (0.1, 0.0, 0.0), (0.0, 0.0, 0.0), 1.0, deadman=True)
    assert applied(hub.receive(alice, cmd(1), 10)) == [ApplyCommand(alice, cmd(1), 10)]
    assert applied(hub.receive(alice, vel, 20)) == [ApplyCommand(alice, vel, 20)]


def test_raw_frames_are_decoded_in_either_framing(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    m = {"type": "command", "seq": 1, "mode": "joints", "q": [0.1, 0.2, 0.5]}
    assert applied(hub.receive(alice, json.dumps(m), 1))[0].command == cmd(1)
    m["seq"] = 2
    assert applied(hub.receive(alice, msgpack.packb(m), 2))[0].command == cmd(2)
    out = hub.receive(alice, b"\xc1", 3)
    assert error_code(out) is ErrorCode.BAD_ENCODING
    out = hub.receive(alice, '{"type":"command","seq":3,"mode":"joints","q":[NaN,0,0]}', 4)
    assert error_code(out) is ErrorCode.NOT_FINITE
    assert applied(out) == []


def test_stale_seq_is_dropped(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    hub.receive(alice, cmd(5), 0)
    for i, seq in enumerate((5, 4, -1), start=1):
        out = hub.receive(alice, cmd(seq), i * S)  # spaced out: each one is reported
        assert error_code(out) is ErrorCode.STALE_SEQ
        assert applied(out) == []
    assert applied(hub.receive(alice, cmd(6), 100 * S))


def test_a_new_lease_restarts_the_seq_count(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    hub.receive(alice, cmd(50), 0)
    hub.receive(alice, RELEASE, 1)
    hub.receive(alice, REQUEST, 2)
    assert applied(hub.receive(alice, cmd(1), 3))


def test_wrong_joint_count_is_refused(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    out = hub.receive(alice, JointsCommand(1, (0.0, 0.0)), 0)
    assert error_code(out) is ErrorCode.BAD_SHAPE
    assert applied(out) == []
    assert applied(hub.receive(alice, cmd(1), 1))  # a refused seq is not consumed


def test_command_errors_are_thinned_out_and_counted(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    hub.receive(alice, cmd(10), 0)
    ms = 1_000_000
    assert error_code(hub.receive(alice, cmd(1), 1 * ms)) is ErrorCode.STALE_SEQ
    for t in range(2, 6):
        assert hub.receive(alice, cmd(1), t * ms).replies == []
    # Another code in the same window is still reported.
    assert error_code(hub.receive(alice, JointsCommand(11, (0.0,)), 7 * ms)) is ErrorCode.BAD_SHAPE
    out = hub.receive(alice, cmd(1), 600 * ms)
    assert error_code(out) is ErrorCode.STALE_SEQ
    assert "(4 more like this were not reported)" in out.replies[0].message  # type: ignore[union-attr]
    # Other message types are always answered.
    assert error_code(hub.receive(alice, RESET, 601 * ms)) is ErrorCode.BAD_STATE
    assert error_code(hub.receive(alice, RESET, 601 * ms)) is ErrorCode.BAD_STATE


# --- e-stop -------------------------------------------------------------------------------


def test_anyone_may_trigger_the_estop(hub: Hub) -> None:
    operator_with_lease(hub)
    o = join(hub, Role.OBSERVER, "o")
    out = hub.receive(o, TRIGGER, 0)
    status = EstopStatus(True, o, f"triggered by client {o} ('o')")
    assert (out.replies, out.broadcast) == ([status], [status])
    assert out.effects == [TriggerEstop(o, status.reason)]
    assert hub.estop is EstopState.LATCHED


def test_commands_are_dropped_while_latched(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    hub.receive(alice, TRIGGER, 0)
    out = hub.receive(alice, cmd(1), 1)
    assert error_code(out) is ErrorCode.ESTOP_LATCHED
    assert applied(out) == []


def test_only_the_lease_holder_resets_the_estop(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    bob = join(hub, Role.OPERATOR, "bob")
    assert error_code(hub.receive(alice, RESET, 0)) is ErrorCode.BAD_STATE  # not latched
    hub.receive(bob, TRIGGER, 1)
    assert error_code(hub.receive(bob, RESET, 2)) is ErrorCode.NO_LEASE
    assert hub.estop is EstopState.LATCHED
    out = hub.receive(alice, RESET, 3)
    assert out.effects == [ResetEstop(alice)]
    assert out.broadcast == [EstopStatus(False, alice, f"reset by client {alice} ('alice')")]
    assert hub.estop is EstopState.ARMED
    assert applied(hub.receive(alice, cmd(1), 4))


def test_a_reconnect_never_rearms(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    hub.receive(alice, TRIGGER, 0)
    hub.disconnect(alice, 1)
    again = hub.connect(Identity(), 2)
    welcome = hub.receive(again, Hello(Role.OPERATOR, "alice"), 2).replies[0]
    assert isinstance(welcome, Welcome) and welcome.estop
    hub.receive(again, REQUEST, 3)
    assert error_code(hub.receive(again, cmd(1), 4)) is ErrorCode.ESTOP_LATCHED
    assert hub.estop is EstopState.LATCHED


def test_the_server_can_latch_the_estop(hub: Hub) -> None:
    out = hub.trigger_estop("robot fault: overload:elbow", 0)
    assert out.client_id is None
    assert out.broadcast == [EstopStatus(True, None, "robot fault: overload:elbow")]
    assert out.effects == [TriggerEstop(None, "robot fault: overload:elbow")]


# --- recording ----------------------------------------------------------------------------


def test_record_start_stop_discard_are_gated_by_state(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    assert error_code(hub.receive(alice, Record(RecordAction.STOP, success=True), 0)) is (
        ErrorCode.BAD_STATE
    )
    assert error_code(hub.receive(alice, Record(RecordAction.DISCARD), 0)) is ErrorCode.BAD_STATE
    out = hub.receive(alice, Record(RecordAction.START, task="pick the cube"), 1)
    assert out.effects == [StartRecording(alice, "pick the cube", "anonymous", "alice")]
    assert out.broadcast == [
        RecordStatus(True, RecordAction.START, "pick the cube", None, alice, "operator")
    ]
    assert hub.record_state is RecordState.RECORDING
    again = hub.receive(alice, Record(RecordAction.START, task="x"), 2)
    assert error_code(again) is ErrorCode.BAD_STATE
    out = hub.receive(alice, Record(RecordAction.STOP, success=True), 3)
    assert out.effects == [StopRecording(True, "operator")]
    assert hub.record_state is RecordState.IDLE
    hub.receive(alice, Record(RecordAction.START), 4)
    assert hub.receive(alice, Record(RecordAction.DISCARD), 5).effects == [DiscardRecording()]


def test_losing_the_lease_stops_the_recording(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    hub.receive(alice, Record(RecordAction.START, task="t"), 0)
    out = hub.disconnect(alice, 1)
    assert StopRecording(None, "lease_lost") in out.effects
    assert hub.record_state is RecordState.IDLE


def test_a_recorder_failure_is_reported_to_its_operator(hub: Hub) -> None:
    alice = operator_with_lease(hub, "alice")
    hub.receive(alice, Record(RecordAction.START, task="t"), 0)
    out = hub.recording_failed("disk full: recordings/ has 0 bytes left", 1)
    assert out.client_id == alice
    assert (
        ErrorReply(ErrorCode.RECORD_FAILED, "disk full: recordings/ has 0 bytes left", "record")
        in out.replies
    )
    assert out.broadcast == [
        RecordStatus(False, reason="failed: disk full: recordings/ has 0 bytes left")
    ]
    assert hub.record_state is RecordState.IDLE


# --- floods -------------------------------------------------------------------------------


def test_a_steady_500_hz_stream_is_never_limited(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    period = S // 500
    for seq in range(1, 1501):  # 3 s
        assert applied(hub.receive(alice, cmd(seq), seq * period))


def test_a_flood_gets_one_error_then_a_disconnect(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    period = S // 2000  # twice the limit
    seq, t, errors, disconnect = 0, 0, 0, None
    while disconnect is None and t < 3 * S:
        seq += 1
        t = seq * period
        out = hub.receive(alice, cmd(seq), t)
        errors += sum(1 for r in out.replies if getattr(r, "code", None) is ErrorCode.RATE_LIMITED)
        disconnect = next((e for e in out.effects if isinstance(e, Disconnect)), None)
    assert errors == 1
    assert disconnect == Disconnect(alice, 1008, "rate limit exceeded")
    assert 1 * S <= t <= 2 * S
    assert hub.receive(alice, cmd(seq + 1), t + 1) == Outcome(alice)


def test_a_short_burst_is_forgiven(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    outs = [hub.receive(alice, Ping(), 0) for _ in range(300)]  # all at once
    assert sum(1 for o in outs if o.replies and isinstance(o.replies[0], ErrorReply)) == 1
    for i in range(1, 2000):  # then 4 s at 500 Hz: no more errors, no disconnect
        out = hub.receive(alice, Ping(), i * (S // 500))
        assert isinstance(out.replies[0], Pong) and out.effects == []


def test_unknown_client_ids_are_a_server_bug(hub: Hub) -> None:
    with pytest.raises(UnknownClientError):
        hub.receive(42, Ping(), 0)
    c = hub.connect(Identity(), 0)
    hub.disconnect(c, 1)
    with pytest.raises(UnknownClientError):
        hub.disconnect(c, 2)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="rate_hz"):
        HubConfig(ROBOT, rate_hz=0.0)


def test_safety_refusals_from_the_loop_are_thinned_like_the_hubs_own(hub: Hub) -> None:
    alice = operator_with_lease(hub)
    refusal = ProtocolError(ErrorCode.UNSAFE_COMMAND, "jump of 0.9 rad", ref_type="command", seq=3)
    assert error_code(hub.command_refused(alice, refusal, 0)) is ErrorCode.UNSAFE_COMMAND
    assert hub.command_refused(alice, refusal, 1).replies == []
    hub.disconnect(alice, 2)
    assert hub.command_refused(alice, refusal, 3) == Outcome(None)


def test_names_lose_control_characters(hub: Hub) -> None:
    c = join(hub, Role.OBSERVER, "eve\n2026-01-01 INFO lease granted\x1b[2J")
    assert hub.info(c, 0).name == "eve2026-01-01 INFO lease granted[2J"
    d = join(hub, Role.OBSERVER, "\t")
    assert hub.info(d, 0).name == f"client-{d}"
