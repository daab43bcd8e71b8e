"""The wire codec, byte by byte, in both framings: msgpack (binary) and JSON (text)."""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest

from teleop.errors import TeleopError
from teleop.protocol import (
    MAX_MESSAGE_BYTES,
    CameraFrame,
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
    LoopStats,
    Message,
    Ping,
    Pong,
    ProtocolError,
    Record,
    RecordAction,
    RecordingInfo,
    RecordStatus,
    RobotInfo,
    Role,
    State,
    VelocityCommand,
    Welcome,
    check_command_shape,
    decode,
    decode_from_server,
    encode,
)

ROBOT = RobotInfo(
    name="so101_sim",
    joint_names=("shoulder", "elbow", "gripper"),
    lower=(-1.9, -1.7, 0.0),
    upper=(1.9, 1.7, 1.0),
    max_velocity=(3.0, 3.0, 2.0),
    max_effort=(10.0, 10.0, 30.0),
    cameras=("front", "wrist"),
)

CLIENT_MESSAGES: list[Message] = [
    Hello(Role.OPERATOR, "alice"),
    Hello(Role.OBSERVER, "", protocol=1),
    Lease(LeaseAction.REQUEST),
    Lease(LeaseAction.REQUEST, force=True),
    Lease(LeaseAction.RELEASE),
    JointsCommand(7, (0.1, -0.2, 1.0), deadman=True, t_client_ns=123456789),
    JointsCommand(-3, (0.0, 0.0, 0.5)),
    VelocityCommand(8, (0.05, 0.0, -0.01), (0.0, 0.0, 0.3), 0.5, deadman=False),
    Record(RecordAction.START, task="pick the red cube"),
    Record(RecordAction.STOP, success=True),
    Record(RecordAction.STOP, success=None),
    Record(RecordAction.DISCARD),
    Estop(EstopAction.TRIGGER),
    Estop(EstopAction.RESET),
    Ping(),
    Ping(t_client_ns=42),
]

STATE = State(
    t_ns=1_000_000_123,
    q=(0.1, 0.2, 0.9),
    dq=(0.0, -0.5, 0.0),
    tau=(1.5, -2.25, 3.0),
    ee_force=(0.0, 0.0, -9.81),
    seq=41,
    estop=False,
    recording=RecordingInfo(True, 3, 12.5, 375),
    grasp_force=4.5,
    loop=LoopStats(199.8, 0.35, 2),
    safety={"clamped": 12, "jump_rejected": 1},
    faults=("overload:elbow",),
    t_client_ns=99,
)

SERVER_MESSAGES: list[Message] = [
    Welcome(1, 4, 200.0, ROBOT, Role.OPERATOR, holder=2, holder_name="bob", estop=True),
    Welcome(1, 5, 100.0, ROBOT, Role.OBSERVER),
    STATE,
    State(0, (0.0,), (0.0,), (0.0,), (0.0, 0.0, 0.0), None, True, RecordingInfo()),
    CameraFrame("front", 17, 3, 320, 240, b"\xff\xd8\xff\xe0JFIF\x00\x01\xff\xd9"),
    LeaseStatus(4, True, "alice"),
    LeaseStatus(None, False),
    RecordStatus(True, RecordAction.START, "pick", None, 4, "operator"),
    RecordStatus(False, RecordAction.STOP, None, True, 4, "operator"),
    EstopStatus(True, 4, "triggered by client 4"),
    EstopStatus(False, None),
    ErrorReply(ErrorCode.STALE_SEQ, "seq 3 is not above 5", "command", 3),
    ErrorReply(ErrorCode.BAD_ENCODING, "not valid JSON"),
    Pong(555, 42),
]


def frames(m: dict[str, Any]) -> list[bytes | str]:
    """The same map as a binary (msgpack) and a text (JSON) frame."""
    return [msgpack.packb(m), json.dumps(m)]


def refused(data: bytes | str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decode(data)
    return info.value


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["msgpack", "json"])
@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=repr)
def test_client_messages_round_trip(msg: Message, binary: bool) -> None:
    data = encode(msg, binary)
    assert isinstance(data, bytes if binary else str)
    assert decode(data) == msg


@pytest.mark.parametrize("binary", [True, False], ids=["msgpack", "json"])
@pytest.mark.parametrize("msg", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_round_trip(msg: Message, binary: bool) -> None:
    assert decode_from_server(encode(msg, binary)) == msg


def test_msgpack_bytes_are_exact() -> None:
    assert encode(Ping(t_client_ns=5), binary=True) == (b"\x82\xa4type\xa4ping\xabt_client_ns\x05")
    assert encode(Estop(EstopAction.TRIGGER), binary=True) == (
        b"\x82\xa4type\xa5estop\xa6action\xa7trigger"
    )


def test_json_text_is_compact_and_exact() -> None:
    text = encode(JointsCommand(1, (0.5, 1.0), deadman=True), binary=False)
    assert text == (
        '{"type":"command","seq":1,"mode":"joints","q":[0.5,1.0],"deadman":true,"t_client_ns":null}'
    )


def test_browser_json_with_integers_decodes_to_floats() -> None:
    msg = decode('{"type":"command","seq":3,"mode":"joints","q":[0,1,-2]}')
    assert msg == JointsCommand(3, (0.0, 1.0, -2.0))
    assert isinstance(msg, JointsCommand)
    assert all(type(x) is float for x in msg.q)


def test_unknown_fields_are_ignored() -> None:
    for data in frames({"type": "ping", "t_client_ns": 1, "future": {"x": [1, 2]}}):
        assert decode(data) == Ping(1)


def test_optional_fields_may_be_null() -> None:
    m = {"type": "command", "seq": 1, "mode": "joints", "q": [0.0], "deadman": None}
    for data in frames(m):
        assert decode(data) == JointsCommand(1, (0.0,))


def test_frame_bytes_travel_as_base64_in_json_and_raw_in_msgpack() -> None:
    frame = CameraFrame("wrist", 1, 2, 4, 3, b"\x00\x01\xfe\xff")
    assert json.loads(encode(frame, binary=False))["data"] == "AAH+/w=="
    assert msgpack.unpackb(encode(frame, binary=True))["data"] == b"\x00\x01\xfe\xff"


def test_fixed_minimum_fields_are_on_the_wire() -> None:
    """DESIGN.md fixes these field names; other programs rely on them."""
    minimum: list[tuple[Message, set[str]]] = [
        (Welcome(1, 1, 100.0, ROBOT, Role.OPERATOR), {"protocol", "client_id", "rate_hz", "robot"}),
        (STATE, {"t_ns", "q", "dq", "tau", "ee_force", "seq", "estop", "recording"}),
        (LeaseStatus(1, True), {"holder", "granted"}),
        (ErrorReply(ErrorCode.BAD_FIELD, "x"), {"code", "message"}),
        (JointsCommand(1, (0.0,)), {"seq", "mode", "q", "deadman"}),
        (VelocityCommand(1, (0, 0, 0), (0, 0, 0), 1.0), {"linear", "angular", "gripper"}),
        (Hello(Role.OPERATOR, "a"), {"role", "name"}),
        (Record(RecordAction.STOP, "t", True), {"action", "task", "success"}),
    ]
    for msg, fields in minimum:
        wire = json.loads(encode(msg, binary=False))
        assert wire["type"] == msg.type
        assert fields <= wire.keys(), msg
    robot = json.loads(encode(Welcome(1, 1, 100.0, ROBOT, Role.OPERATOR), False))["robot"]
    assert robot["name"] == "so101_sim"
    assert robot["joint_names"] == ["shoulder", "elbow", "gripper"]
    assert robot["cameras"] == ["front", "wrist"]
    assert robot["limits"]["upper"] == [1.9, 1.7, 1.0]


# --- bad input: one row per case, both framings where the case exists in both ------------

JOINTS = {"type": "command", "seq": 1, "mode": "joints", "q": [0.0, 0.0, 0.5]}
VELOCITY = {
    "type": "command",
    "seq": 1,
    "mode": "ee_velocity",
    "linear": [0.0, 0.0, 0.0],
    "angular": [0.0, 0.0, 0.0],
    "gripper": 0.5,
}

MAP_ROWS: list[tuple[str, dict[str, Any], ErrorCode, str]] = [
    ("missing type", {"seq": 1}, ErrorCode.MISSING_TYPE, "'type'"),
    ("null type", {"type": None}, ErrorCode.MISSING_TYPE, "'type'"),
    ("unknown type", {"type": "teleport"}, ErrorCode.UNKNOWN_TYPE, "teleport"),
    ("type not a string", {"type": 5}, ErrorCode.UNKNOWN_TYPE, "int 5"),
    ("server type from client", {"type": "welcome"}, ErrorCode.UNKNOWN_TYPE, "welcome"),
    (
        "seq is a string",
        {**JOINTS, "seq": "1"},
        ErrorCode.BAD_FIELD,
        "'command.seq' must be an integer",
    ),
    ("seq is a float", {**JOINTS, "seq": 1.5}, ErrorCode.BAD_FIELD, "'command.seq'"),
    ("seq is a bool", {**JOINTS, "seq": True}, ErrorCode.BAD_FIELD, "'command.seq'"),
    (
        "seq missing",
        {k: v for k, v in JOINTS.items() if k != "seq"},
        ErrorCode.BAD_FIELD,
        "'command.seq' is required",
    ),
    (
        "mode missing",
        {"type": "command", "seq": 1},
        ErrorCode.BAD_FIELD,
        "'command.mode' is required",
    ),
    (
        "mode unknown",
        {**JOINTS, "mode": "cartesian"},
        ErrorCode.BAD_FIELD,
        "'joints' or 'ee_velocity'",
    ),
    (
        "q missing",
        {"type": "command", "seq": 1, "mode": "joints"},
        ErrorCode.BAD_FIELD,
        "'command.q' is required",
    ),
    (
        "q is a string",
        {**JOINTS, "q": "0,0,0"},
        ErrorCode.BAD_FIELD,
        "'command.q' must be an array of numbers",
    ),
    (
        "q holds a string",
        {**JOINTS, "q": [0.0, "a", 0.0]},
        ErrorCode.BAD_FIELD,
        "'command.q[1]' must be a number",
    ),
    ("q holds a bool", {**JOINTS, "q": [True, 0.0, 0.0]}, ErrorCode.BAD_FIELD, "'command.q[0]'"),
    ("q holds null", {**JOINTS, "q": [0.0, None]}, ErrorCode.BAD_FIELD, "'command.q[1]'"),
    (
        "deadman is 1",
        {**JOINTS, "deadman": 1},
        ErrorCode.BAD_FIELD,
        "'command.deadman' must be true or false",
    ),
    ("gripper is a string", {**VELOCITY, "gripper": "1"}, ErrorCode.BAD_FIELD, "'command.gripper'"),
    (
        "gripper missing",
        {k: v for k, v in VELOCITY.items() if k != "gripper"},
        ErrorCode.BAD_FIELD,
        "'command.gripper' is required",
    ),
    (
        "t_client_ns is a float",
        {**JOINTS, "t_client_ns": 1.5},
        ErrorCode.BAD_FIELD,
        "'command.t_client_ns'",
    ),
    (
        "linear has 2 entries",
        {**VELOCITY, "linear": [0.0, 0.0]},
        ErrorCode.BAD_SHAPE,
        "'command.linear' has 2 entries",
    ),
    (
        "angular has 4 entries",
        {**VELOCITY, "angular": [0, 0, 0, 0]},
        ErrorCode.BAD_SHAPE,
        "'command.angular'",
    ),
    (
        "role missing",
        {"type": "hello", "name": "x"},
        ErrorCode.BAD_FIELD,
        "'hello.role' is required",
    ),
    (
        "role unknown",
        {"type": "hello", "role": "admin"},
        ErrorCode.BAD_FIELD,
        "'operator' or 'observer'",
    ),
    ("role is a number", {"type": "hello", "role": 1}, ErrorCode.BAD_FIELD, "'hello.role'"),
    (
        "name is a number",
        {"type": "hello", "role": "observer", "name": 5},
        ErrorCode.BAD_FIELD,
        "'hello.name'",
    ),
    (
        "name too long",
        {"type": "hello", "role": "observer", "name": "n" * 65},
        ErrorCode.BAD_FIELD,
        "at most 64",
    ),
    ("lease action missing", {"type": "lease"}, ErrorCode.BAD_FIELD, "'lease.action' is required"),
    (
        "lease action unknown",
        {"type": "lease", "action": "grab"},
        ErrorCode.BAD_FIELD,
        "'request' or 'release'",
    ),
    (
        "lease force not bool",
        {"type": "lease", "action": "request", "force": "yes"},
        ErrorCode.BAD_FIELD,
        "'lease.force'",
    ),
    (
        "record action unknown",
        {"type": "record", "action": "pause"},
        ErrorCode.BAD_FIELD,
        "'record.action'",
    ),
    (
        "task is a number",
        {"type": "record", "action": "start", "task": 5},
        ErrorCode.BAD_FIELD,
        "'record.task'",
    ),
    (
        "task over 1000 chars",
        {"type": "record", "action": "start", "task": "t" * 1001},
        ErrorCode.BAD_FIELD,
        "1001 characters; at most 1000",
    ),
    (
        "success not bool",
        {"type": "record", "action": "stop", "success": "yes"},
        ErrorCode.BAD_FIELD,
        "'record.success'",
    ),
    (
        "estop action unknown",
        {"type": "estop", "action": "arm"},
        ErrorCode.BAD_FIELD,
        "'trigger' or 'reset'",
    ),
    (
        "q holds an int above int64",
        {**JOINTS, "q": [2**63, 0.0, 0.0]},
        ErrorCode.NOT_FINITE,
        "int64",
    ),
    ("uint64 seq", {**JOINTS, "seq": 2**64 - 1}, ErrorCode.NOT_FINITE, "int64"),
]


@pytest.mark.parametrize("binary", [True, False], ids=["msgpack", "json"])
@pytest.mark.parametrize(
    ("m", "code", "says"), [row[1:] for row in MAP_ROWS], ids=[row[0] for row in MAP_ROWS]
)
def test_bad_maps_are_refused_with_a_stable_code(
    m: dict[str, Any], code: ErrorCode, says: str, binary: bool
) -> None:
    data = msgpack.packb(m) if binary else json.dumps(m)
    err = refused(data)
    assert err.code is code
    assert says in err.message


RAW_ROWS: list[tuple[str, bytes | str, ErrorCode]] = [
    ("msgpack reserved byte", b"\xc1", ErrorCode.BAD_ENCODING),
    ("msgpack truncated", b"\x82\xa4type\xa4pi", ErrorCode.BAD_ENCODING),
    ("msgpack two objects", msgpack.packb({"type": "ping"}) * 2, ErrorCode.BAD_ENCODING),
    ("msgpack empty", b"", ErrorCode.BAD_ENCODING),
    ("msgpack integer map key", msgpack.packb({1: "ping"}), ErrorCode.BAD_ENCODING),
    ("msgpack invalid utf-8", b"\x81\xa4type\xa2\xff\xfe", ErrorCode.BAD_ENCODING),
    ("msgpack array", msgpack.packb(["ping"]), ErrorCode.BAD_ENCODING),
    ("msgpack integer", msgpack.packb(7), ErrorCode.BAD_ENCODING),
    ("json unclosed", '{"type": "ping"', ErrorCode.BAD_ENCODING),
    ("json garbage", "nul", ErrorCode.BAD_ENCODING),
    ("json empty", "", ErrorCode.BAD_ENCODING),
    ("json single quotes", "{'type': 'ping'}", ErrorCode.BAD_ENCODING),
    ("json array", '[{"type": "ping"}]', ErrorCode.BAD_ENCODING),
    ("json string", '"ping"', ErrorCode.BAD_ENCODING),
    ("json null", "null", ErrorCode.BAD_ENCODING),
    ("json deep nesting, over the cap", "[" * 60_000 + "]" * 60_000, ErrorCode.TOO_LARGE),
    ("json deep nesting, under the cap", "[" * 30_000 + "]" * 30_000, ErrorCode.BAD_ENCODING),
    ("msgpack deep nesting", b"\x91" * 60_000 + b"\xc0", ErrorCode.BAD_ENCODING),
    ("json NaN", '{"type":"command","seq":1,"mode":"joints","q":[NaN,0,0]}', ErrorCode.NOT_FINITE),
    (
        "json Infinity",
        '{"type":"command","seq":1,"mode":"joints","q":[Infinity]}',
        ErrorCode.NOT_FINITE,
    ),
    (
        "json -Infinity",
        '{"type":"command","seq":1,"mode":"joints","q":[-Infinity]}',
        ErrorCode.NOT_FINITE,
    ),
    (
        "json 1e400 in q",
        '{"type":"command","seq":1,"mode":"joints","q":[0,1e400,0]}',
        ErrorCode.NOT_FINITE,
    ),
    (
        "json -1e400 gripper",
        '{"type":"command","seq":1,"mode":"ee_velocity","linear":[0,0,0],"angular":[0,0,0],"gripper":-1e400}',
        ErrorCode.NOT_FINITE,
    ),
    (
        "json 10**400 integer in q",
        '{"type":"command","seq":1,"mode":"joints","q":[1' + "0" * 400 + "]}",
        ErrorCode.NOT_FINITE,
    ),
    (
        "json seq below int64",
        '{"type":"command","seq":-9223372036854775809,"mode":"joints","q":[0]}',
        ErrorCode.NOT_FINITE,
    ),
    ("json NaN in an unknown field", '{"type":"ping","x":NaN}', ErrorCode.NOT_FINITE),
    (
        "msgpack NaN in q",
        msgpack.packb({**JOINTS, "q": [0.0, float("nan"), 0.0]}),
        ErrorCode.NOT_FINITE,
    ),
    (
        "msgpack inf in q",
        msgpack.packb({**JOINTS, "q": [float("inf"), 0.0, 0.0]}),
        ErrorCode.NOT_FINITE,
    ),
    (
        "msgpack -inf in linear",
        msgpack.packb({**VELOCITY, "linear": [0.0, float("-inf"), 0.0]}),
        ErrorCode.NOT_FINITE,
    ),
    (
        "msgpack NaN gripper",
        msgpack.packb({**VELOCITY, "gripper": float("nan")}),
        ErrorCode.NOT_FINITE,
    ),
    (
        "msgpack float32 NaN",
        msgpack.packb({**JOINTS, "q": [float("nan")]}, use_single_float=True),
        ErrorCode.NOT_FINITE,
    ),
    (
        "msgpack too large",
        msgpack.packb({"type": "ping", "pad": "x" * MAX_MESSAGE_BYTES}),
        ErrorCode.TOO_LARGE,
    ),
    (
        "json too large",
        json.dumps({"type": "ping", "pad": "x" * MAX_MESSAGE_BYTES}),
        ErrorCode.TOO_LARGE,
    ),
]


@pytest.mark.parametrize(("data", "code"), [r[1:] for r in RAW_ROWS], ids=[r[0] for r in RAW_ROWS])
def test_bad_frames_are_refused_with_a_stable_code(data: bytes | str, code: ErrorCode) -> None:
    assert refused(data).code is code


def test_a_huge_number_in_an_ignored_field_is_harmless() -> None:
    # The reader never looks at it; only numbers the server uses must be finite.
    assert decode('{"type":"ping","x":1e400}') == Ping()


def test_errors_name_the_message_and_seq() -> None:
    err = refused(json.dumps({**JOINTS, "seq": 9, "q": [0.0, "x"]}))
    assert (err.ref_type, err.seq) == ("command", 9)
    assert refused(b"\xc1").ref_type is None


def test_foreign_exceptions_are_translated_and_chained() -> None:
    err = refused(b"\xc1")
    assert isinstance(err, TeleopError)
    assert isinstance(err.__cause__, (ValueError, msgpack.UnpackException))
    assert isinstance(refused("{").__cause__, json.JSONDecodeError)


def test_task_of_exactly_1000_chars_is_accepted() -> None:
    msg = decode(json.dumps({"type": "record", "action": "start", "task": "é" * 1000}))
    assert msg == Record(RecordAction.START, task="é" * 1000)


def test_check_command_shape_names_the_joints() -> None:
    names = ROBOT.joint_names
    check_command_shape(JointsCommand(1, (0.0, 0.0, 1.0)), names)
    check_command_shape(VelocityCommand(1, (0, 0, 0), (0, 0, 0), 1.0), names)
    with pytest.raises(ProtocolError) as info:
        check_command_shape(JointsCommand(4, (0.0, 0.0)), names)
    err = info.value
    assert (err.code, err.ref_type, err.seq) == (ErrorCode.BAD_SHAPE, "command", 4)
    assert "2 entries; this robot takes 3: shoulder, elbow, gripper" in err.message


# --- encoding refuses what decoding would refuse ------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["msgpack", "json"])
@pytest.mark.parametrize(
    "msg",
    [
        State(
            1,
            (0.0, float("nan")),
            (0.0, 0.0),
            (0.0, 0.0),
            (0.0, 0.0, 0.0),
            1,
            False,
            RecordingInfo(),
        ),
        State(
            1,
            (0.0,),
            (0.0,),
            (0.0,),
            (0.0, 0.0, 0.0),
            1,
            False,
            RecordingInfo(),
            grasp_force=float("inf"),
        ),
        State(
            1,
            (0.0,),
            (0.0,),
            (0.0,),
            (0.0, 0.0, 0.0),
            1,
            False,
            RecordingInfo(),
            loop=LoopStats(float("nan")),
        ),
        JointsCommand(1, (float("-inf"),)),
        VelocityCommand(1, (0, 0, 0), (0, 0, 0), float("nan")),
    ],
    ids=["state.q", "grasp_force", "loop.rate_hz", "command.q", "gripper"],
)
def test_encode_refuses_non_finite_numbers(msg: Message, binary: bool) -> None:
    with pytest.raises(ProtocolError) as info:
        encode(msg, binary)
    assert info.value.code is ErrorCode.NOT_FINITE


def test_client_keeps_error_codes_it_does_not_know() -> None:
    msg = decode_from_server('{"type":"error","code":"brand_new","message":"m"}')
    assert msg == ErrorReply("brand_new", "m")
    known = decode_from_server('{"type":"error","code":"no_lease","message":"m"}')
    assert isinstance(known, ErrorReply)
    assert known.code is ErrorCode.NO_LEASE


def test_client_refuses_bad_server_frames() -> None:
    with pytest.raises(ProtocolError) as info:
        decode_from_server('{"type":"state","t_ns":1}')
    assert info.value.code is ErrorCode.BAD_FIELD
    with pytest.raises(ProtocolError) as info:
        decode_from_server(
            '{"type":"frame","camera":"c","t_ns":1,"seq":1,"width":1,"height":1,"data":"!!"}'
        )
    assert "base64" in info.value.message
