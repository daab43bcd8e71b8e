"""The session: hello, roles, the lease, seq, the e-stop latch, recording, floods."""

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
from teleop.session import EstopState, RecordState, ServerSession, SessionConfig
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
def session() -> ServerSession:
    return ServerSession(SessionConfig(ROBOT, rate_hz=200.0))


def join(
    session: ServerSession, role: Role, name: str, identity: Identity | None = None, t: int = 0
) -> int:
    client_id = session.connect(identity or Identity(), t)
    out = session.receive(client_id, Hello(role, name), t)
    assert isinstance(out.replies[0], Welcome)
    return client_id


def operator_with_lease(session: ServerSession, name: str = "alice", t: int = 0) -> int:
    client_id = join(session, Role.OPERATOR, name, t=t)
    assert session.receive(client_id, REQUEST, t).replies[0] == LeaseStatus(client_id, True, name)
    return client_id


def error_code(out: Outcome) -> ErrorCode | str:
    errors = [r for r in out.replies if isinstance(r, ErrorReply)]
    assert len(errors) == 1, out
    return errors[0].code


def applied(out: Outcome) -> list[ApplyCommand]:
    return [e for e in out.effects if isinstance(e, ApplyCommand)]


# --- hello --------------------------------------------------------------------------------


def test_welcome_tells_the_client_what_it_needs(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    session.receive(alice, TRIGGER, 0)
    bob = session.connect(Identity(), 5)
    out = session.receive(bob, Hello(Role.OBSERVER, "  bob "), 5)
    assert out.client_id == bob
    assert out.replies == [Welcome(1, bob, 200.0, ROBOT, Role.OBSERVER, alice, "alice", estop=True)]
    assert session.ready_clients() == [alice, bob]


def test_hello_is_required_first(session: ServerSession) -> None:
    c = session.connect(Identity(), 0)
    refused: list[ClientMessage] = [cmd(1), REQUEST, Record(RecordAction.START), RESET]
    for msg in refused:
        out = session.receive(c, msg, 0)
        assert error_code(out) is ErrorCode.NOT_READY
        assert out.effects == []
    assert session.receive(c, Ping(7), 0).replies == [Pong(0, 7)]
    assert session.ready_clients() == []


def test_estop_trigger_works_even_before_hello(session: ServerSession) -> None:
    c = session.connect(Identity(), 0)
    out = session.receive(c, TRIGGER, 0)
    assert [type(e) for e in out.effects] == [TriggerEstop]
    assert session.estop is EstopState.LATCHED


def test_second_hello_and_wrong_protocol_are_refused(session: ServerSession) -> None:
    c = join(session, Role.OBSERVER, "o")
    assert error_code(session.receive(c, Hello(Role.OPERATOR, "o"), 0)) is ErrorCode.BAD_STATE
    d = session.connect(Identity(), 0)
    out = session.receive(d, Hello(Role.OPERATOR, "d", protocol=2), 0)
    assert error_code(out) is ErrorCode.UNSUPPORTED_PROTOCOL
    assert error_code(session.receive(d, REQUEST, 0)) is ErrorCode.NOT_READY


def test_poll_disconnects_clients_that_never_say_hello(session: ServerSession) -> None:
    silent = session.connect(Identity(), 0)
    polite = join(session, Role.OBSERVER, "p")
    assert session.poll(4 * S).effects == []
    out = session.poll(6 * S)
    assert out.effects == [Disconnect(silent, 1008, "no hello within 5 s")]
    assert session.info(silent, 6 * S).phase is ClientPhase.CLOSING
    assert session.receive(silent, Hello(Role.OPERATOR, "late"), 6 * S) == Outcome(silent)
    assert session.poll(7 * S).effects == []  # decided once
    assert session.ready_clients() == [polite]


# --- the lease ----------------------------------------------------------------------------


def test_first_operator_gets_the_lease_and_everyone_hears(session: ServerSession) -> None:
    watcher = join(session, Role.OBSERVER, "w")
    alice = join(session, Role.OPERATOR, "alice")
    out = session.receive(alice, REQUEST, 0)
    assert out.replies == [LeaseStatus(alice, True, "alice")]
    assert out.broadcast == [LeaseStatus(alice, False, "alice")]
    assert out.effects == [LeaseChanged(alice, None)]
    assert session.holder == alice
    assert watcher != alice


def test_second_operator_is_refused_and_told_who_holds_it(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    bob = join(session, Role.OPERATOR, "bob", t=3 * S)
    out = session.receive(bob, REQUEST, 3 * S)
    assert out.replies[0] == LeaseStatus(alice, False, "alice")
    error = out.replies[1]
    assert isinstance(error, ErrorReply)
    assert error.code is ErrorCode.LEASE_HELD
    assert f"client {alice} ('alice')" in error.message
    assert out.broadcast == [] and out.effects == []
    assert session.holder == alice


def test_asking_again_keeps_the_lease_quietly(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    out = session.receive(alice, REQUEST, 1)
    assert out.replies == [LeaseStatus(alice, True, "alice")]
    assert out.broadcast == [] and out.effects == []


def test_release_frees_the_lease_for_the_next_operator(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    bob = join(session, Role.OPERATOR, "bob")
    assert error_code(session.receive(bob, RELEASE, 0)) is ErrorCode.NO_LEASE
    out = session.receive(alice, RELEASE, 1)
    assert out.replies == [LeaseStatus(None, False)]
    assert out.broadcast == [LeaseStatus(None, False)]
    assert out.effects == [LeaseChanged(None, alice)]
    assert session.receive(bob, REQUEST, 2).replies == [LeaseStatus(bob, True, "bob")]


def test_disconnect_releases_the_lease(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    bob = join(session, Role.OPERATOR, "bob")
    out = session.disconnect(alice, 2 * S)
    assert out.client_id is None
    assert out.broadcast == [LeaseStatus(None, False)]
    assert out.effects[0] == LeaseChanged(None, alice)
    left = out.effects[-1]
    assert isinstance(left, ClientLeft)
    assert (left.info.client_id, left.info.lease_held_s) == (alice, 2.0)
    assert session.holder is None
    assert session.ready_clients() == [bob]
    assert session.receive(bob, REQUEST, 3 * S).replies == [LeaseStatus(bob, True, "bob")]


def test_admin_takes_the_lease_over_with_force(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    admin = join(session, Role.OPERATOR, "root", identity=ADMIN)
    assert error_code(session.receive(admin, REQUEST, 1)) is ErrorCode.LEASE_HELD
    out = session.receive(admin, Lease(LeaseAction.REQUEST, force=True), 1)
    assert out.replies == [LeaseStatus(admin, True, "root")]
    assert out.broadcast == [LeaseStatus(admin, False, "root")]
    assert out.effects == [LeaseChanged(admin, alice)]
    assert error_code(session.receive(alice, cmd(99), 2)) is ErrorCode.NO_LEASE


def test_force_without_the_admin_token_is_unauthorized(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    mallory = join(session, Role.OPERATOR, "mallory", identity=Identity("token:ffffffffffff"))
    out = session.receive(mallory, Lease(LeaseAction.REQUEST, force=True), 1)
    assert error_code(out) is ErrorCode.UNAUTHORIZED
    assert session.holder == alice


def test_lease_time_is_counted_per_client(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice", t=1 * S)
    session.receive(alice, RELEASE, 4 * S)
    session.receive(alice, REQUEST, 10 * S)
    assert session.info(alice, 12 * S).lease_held_s == pytest.approx(5.0)
    assert session.info(alice, 12 * S).principal == "anonymous"


# --- roles --------------------------------------------------------------------------------


def test_observer_cannot_lease_command_record_or_reset(session: ServerSession) -> None:
    operator_with_lease(session)
    o = join(session, Role.OBSERVER, "o")
    refused: list[ClientMessage] = [
        REQUEST,
        RELEASE,
        cmd(1),
        Record(RecordAction.START, "t"),
        RESET,
    ]
    for msg in refused:
        out = session.receive(o, msg, 0)
        assert error_code(out) is ErrorCode.FORBIDDEN_ROLE, msg
        assert out.effects == []


def test_operator_without_the_lease_cannot_command_or_record(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    bob = join(session, Role.OPERATOR, "bob")
    out = session.receive(bob, cmd(1), 0)
    assert error_code(out) is ErrorCode.NO_LEASE
    assert f"client {alice} ('alice') holds it" in out.replies[0].message  # type: ignore[union-attr]
    assert error_code(session.receive(bob, Record(RecordAction.START), 0)) is ErrorCode.NO_LEASE
    assert applied(out) == []


# --- commands -----------------------------------------------------------------------------


def test_the_holder_commands_the_arm(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    vel = VelocityCommand(2, (0.1, 0.0, 0.0), (0.0, 0.0, 0.0), 1.0, deadman=True)
    assert applied(session.receive(alice, cmd(1), 10)) == [ApplyCommand(alice, cmd(1), 10)]
    assert applied(session.receive(alice, vel, 20)) == [ApplyCommand(alice, vel, 20)]


def test_raw_frames_are_decoded_in_either_framing(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    m = {"type": "command", "seq": 1, "mode": "joints", "q": [0.1, 0.2, 0.5]}
    assert applied(session.receive(alice, json.dumps(m), 1))[0].command == cmd(1)
    m["seq"] = 2
    assert applied(session.receive(alice, msgpack.packb(m), 2))[0].command == cmd(2)
    out = session.receive(alice, b"\xc1", 3)
    assert error_code(out) is ErrorCode.BAD_ENCODING
    out = session.receive(alice, '{"type":"command","seq":3,"mode":"joints","q":[NaN,0,0]}', 4)
    assert error_code(out) is ErrorCode.NOT_FINITE
    assert applied(out) == []


def test_stale_seq_is_dropped(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    session.receive(alice, cmd(5), 0)
    for i, seq in enumerate((5, 4, -1), start=1):
        out = session.receive(alice, cmd(seq), i * S)  # spaced out: each one is reported
        assert error_code(out) is ErrorCode.STALE_SEQ
        assert applied(out) == []
    assert applied(session.receive(alice, cmd(6), 100 * S))


def test_a_new_lease_restarts_the_seq_count(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    session.receive(alice, cmd(50), 0)
    session.receive(alice, RELEASE, 1)
    session.receive(alice, REQUEST, 2)
    assert applied(session.receive(alice, cmd(1), 3))


def test_wrong_joint_count_is_refused(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    out = session.receive(alice, JointsCommand(1, (0.0, 0.0)), 0)
    assert error_code(out) is ErrorCode.BAD_SHAPE
    assert applied(out) == []
    assert applied(session.receive(alice, cmd(1), 1))  # a refused seq is not consumed


def test_command_errors_are_thinned_out_and_counted(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    session.receive(alice, cmd(10), 0)
    ms = 1_000_000
    assert error_code(session.receive(alice, cmd(1), 1 * ms)) is ErrorCode.STALE_SEQ
    for t in range(2, 6):
        assert session.receive(alice, cmd(1), t * ms).replies == []
    # Another code in the same window is still reported.
    assert (
        error_code(session.receive(alice, JointsCommand(11, (0.0,)), 7 * ms)) is ErrorCode.BAD_SHAPE
    )
    out = session.receive(alice, cmd(1), 600 * ms)
    assert error_code(out) is ErrorCode.STALE_SEQ
    assert "(4 more like this were not reported)" in out.replies[0].message  # type: ignore[union-attr]
    # Other message types are always answered.
    assert error_code(session.receive(alice, RESET, 601 * ms)) is ErrorCode.BAD_STATE
    assert error_code(session.receive(alice, RESET, 601 * ms)) is ErrorCode.BAD_STATE


# --- e-stop -------------------------------------------------------------------------------


def test_anyone_may_trigger_the_estop(session: ServerSession) -> None:
    operator_with_lease(session)
    o = join(session, Role.OBSERVER, "o")
    out = session.receive(o, TRIGGER, 0)
    status = EstopStatus(True, o, f"triggered by client {o} ('o')")
    assert (out.replies, out.broadcast) == ([status], [status])
    assert out.effects == [TriggerEstop(o, status.reason)]
    assert session.estop is EstopState.LATCHED


def test_commands_are_dropped_while_latched(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    session.receive(alice, TRIGGER, 0)
    out = session.receive(alice, cmd(1), 1)
    assert error_code(out) is ErrorCode.ESTOP_LATCHED
    assert applied(out) == []


def test_only_the_lease_holder_resets_the_estop(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    bob = join(session, Role.OPERATOR, "bob")
    assert error_code(session.receive(alice, RESET, 0)) is ErrorCode.BAD_STATE  # not latched
    session.receive(bob, TRIGGER, 1)
    assert error_code(session.receive(bob, RESET, 2)) is ErrorCode.NO_LEASE
    assert session.estop is EstopState.LATCHED
    out = session.receive(alice, RESET, 3)
    assert out.effects == [ResetEstop(alice)]
    assert out.broadcast == [EstopStatus(False, alice, f"reset by client {alice} ('alice')")]
    assert session.estop is EstopState.ARMED
    assert applied(session.receive(alice, cmd(1), 4))


def test_a_reconnect_never_rearms(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    session.receive(alice, TRIGGER, 0)
    session.disconnect(alice, 1)
    again = session.connect(Identity(), 2)
    welcome = session.receive(again, Hello(Role.OPERATOR, "alice"), 2).replies[0]
    assert isinstance(welcome, Welcome) and welcome.estop
    session.receive(again, REQUEST, 3)
    assert error_code(session.receive(again, cmd(1), 4)) is ErrorCode.ESTOP_LATCHED
    assert session.estop is EstopState.LATCHED


def test_the_server_can_latch_the_estop(session: ServerSession) -> None:
    out = session.trigger_estop("robot fault: overload:elbow", 0)
    assert out.client_id is None
    assert out.broadcast == [EstopStatus(True, None, "robot fault: overload:elbow")]
    assert out.effects == [TriggerEstop(None, "robot fault: overload:elbow")]


# --- recording ----------------------------------------------------------------------------


def test_record_start_stop_discard_are_gated_by_state(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    assert error_code(session.receive(alice, Record(RecordAction.STOP, success=True), 0)) is (
        ErrorCode.BAD_STATE
    )
    assert (
        error_code(session.receive(alice, Record(RecordAction.DISCARD), 0)) is ErrorCode.BAD_STATE
    )
    out = session.receive(alice, Record(RecordAction.START, task="pick the cube"), 1)
    assert out.effects == [StartRecording(alice, "pick the cube", "anonymous", "alice")]
    assert out.broadcast == [
        RecordStatus(True, RecordAction.START, "pick the cube", None, alice, "operator")
    ]
    assert session.record_state is RecordState.RECORDING
    again = session.receive(alice, Record(RecordAction.START, task="x"), 2)
    assert error_code(again) is ErrorCode.BAD_STATE
    out = session.receive(alice, Record(RecordAction.STOP, success=True), 3)
    assert out.effects == [StopRecording(True, "operator")]
    assert session.record_state is RecordState.IDLE
    session.receive(alice, Record(RecordAction.START), 4)
    assert session.receive(alice, Record(RecordAction.DISCARD), 5).effects == [DiscardRecording()]


def test_losing_the_lease_stops_the_recording(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    session.receive(alice, Record(RecordAction.START, task="t"), 0)
    out = session.disconnect(alice, 1)
    assert StopRecording(None, "lease_lost") in out.effects
    assert session.record_state is RecordState.IDLE


def test_a_recorder_failure_is_reported_to_its_operator(session: ServerSession) -> None:
    alice = operator_with_lease(session, "alice")
    session.receive(alice, Record(RecordAction.START, task="t"), 0)
    out = session.recording_failed("disk full: recordings/ has 0 bytes left", 1)
    assert out.client_id == alice
    assert (
        ErrorReply(ErrorCode.RECORD_FAILED, "disk full: recordings/ has 0 bytes left", "record")
        in out.replies
    )
    assert out.broadcast == [
        RecordStatus(False, reason="failed: disk full: recordings/ has 0 bytes left")
    ]
    assert session.record_state is RecordState.IDLE


# --- floods -------------------------------------------------------------------------------


def test_a_steady_500_hz_stream_is_never_limited(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    period = S // 500
    for seq in range(1, 1501):  # 3 s
        assert applied(session.receive(alice, cmd(seq), seq * period))


def test_a_flood_gets_one_error_then_a_disconnect(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    period = S // 2000  # twice the limit
    seq, t, errors, disconnect = 0, 0, 0, None
    while disconnect is None and t < 3 * S:
        seq += 1
        t = seq * period
        out = session.receive(alice, cmd(seq), t)
        errors += sum(1 for r in out.replies if getattr(r, "code", None) is ErrorCode.RATE_LIMITED)
        disconnect = next((e for e in out.effects if isinstance(e, Disconnect)), None)
    assert errors == 1
    assert disconnect == Disconnect(alice, 1008, "rate limit exceeded")
    assert 1 * S <= t <= 2 * S
    assert session.receive(alice, cmd(seq + 1), t + 1) == Outcome(alice)


def test_a_short_burst_is_forgiven(session: ServerSession) -> None:
    alice = operator_with_lease(session)
    outs = [session.receive(alice, Ping(), 0) for _ in range(300)]  # all at once
    assert sum(1 for o in outs if o.replies and isinstance(o.replies[0], ErrorReply)) == 1
    for i in range(1, 2000):  # then 4 s at 500 Hz: no more errors, no disconnect
        out = session.receive(alice, Ping(), i * (S // 500))
        assert isinstance(out.replies[0], Pong) and out.effects == []


def test_unknown_client_ids_are_a_server_bug(session: ServerSession) -> None:
    with pytest.raises(UnknownClientError):
        session.receive(42, Ping(), 0)
    c = session.connect(Identity(), 0)
    session.disconnect(c, 1)
    with pytest.raises(UnknownClientError):
        session.disconnect(c, 2)


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="rate_hz"):
        SessionConfig(ROBOT, rate_hz=0.0)


def test_safety_refusals_from_the_loop_are_thinned_like_the_sessions_own(
    session: ServerSession,
) -> None:
    alice = operator_with_lease(session)
    refusal = ProtocolError(ErrorCode.UNSAFE_COMMAND, "jump of 0.9 rad", ref_type="command", seq=3)
    assert error_code(session.command_refused(alice, refusal, 0)) is ErrorCode.UNSAFE_COMMAND
    assert session.command_refused(alice, refusal, 1).replies == []
    session.disconnect(alice, 2)
    assert session.command_refused(alice, refusal, 3) == Outcome(None)


def test_names_lose_control_characters(session: ServerSession) -> None:
    c = join(session, Role.OBSERVER, "eve\n2026-01-01 INFO lease granted\x1b[2J")
    assert session.info(c, 0).name == "eve2026-01-01 INFO lease granted[2J"
    d = join(session, Role.OBSERVER, "\t")
    assert session.info(d, 0).name == f"client-{d}"
