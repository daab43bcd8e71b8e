"""The wire protocol codec: frames in, typed messages out; messages in, frames out.

No I/O happens here. :func:`decode` turns one websocket frame from a client into a frozen
dataclass, or raises :class:`~teleop.errors.ProtocolError` with a stable
:class:`ErrorCode`; :func:`encode` does the reverse; :func:`decode_from_server` is the
client's side. Binary frames carry msgpack (Python clients), text frames carry JSON (the
browser), and a reply uses the framing its client used. ``docs/protocol.md`` is the
specification.

Representation:
    * Messages are the frozen dataclasses of ``teleop.messages``, re-exported here.
    * Vectors are ``tuple[float, ...]`` in SI units: immutable, comparable, and cheap to
      build from a decoded list; the control loop takes ``np.asarray(cmd.q)``.
    * The value rules of ``teleop.wire`` apply to every field, both ways: NaN, ±inf,
      ``1e400`` and integers outside int64 are refused with ``not_finite``, so
      ``decode(encode(m)) == m`` for every message that encodes.
    * Unknown fields are ignored (forward compatible); required fields are enforced.
    * In JSON, ``bytes`` (a camera frame's JPEG) travel as base64 text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import msgpack

from teleop.errors import ErrorCode, ProtocolError
from teleop.messages import (
    MAX_NAME_CHARS,
    MAX_TASK_CHARS,
    CameraFrame,
    ClientMessage,
    Command,
    CommandMode,
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
    Record,
    RecordAction,
    RecordingInfo,
    RecordStatus,
    RobotInfo,
    Role,
    ServerMessage,
    State,
    VelocityCommand,
    Welcome,
)
from teleop.wire import (
    INT64_MAX,
    INT64_MIN,
    Wire,
    choice,
    describe,
    fail,
    opt,
    read_bool,
    read_bytes,
    read_counters,
    read_float,
    read_int,
    read_map,
    read_str,
    read_strings,
    read_vector,
    read_vector3,
    req,
    str_at_most,
)

__all__ = [  # the message types are re-exported: import everything from here
    "MAX_MESSAGE_BYTES",
    "MAX_NAME_CHARS",
    "MAX_TASK_CHARS",
    "PROTOCOL_VERSION",
    "CameraFrame",
    "ClientMessage",
    "Command",
    "CommandMode",
    "ErrorCode",
    "ErrorReply",
    "Estop",
    "EstopAction",
    "EstopStatus",
    "Hello",
    "JointsCommand",
    "Lease",
    "LeaseAction",
    "LeaseStatus",
    "LoopStats",
    "Message",
    "Ping",
    "Pong",
    "ProtocolError",
    "Record",
    "RecordAction",
    "RecordStatus",
    "RecordingInfo",
    "RobotInfo",
    "Role",
    "ServerMessage",
    "State",
    "VelocityCommand",
    "Welcome",
    "check_command_shape",
    "decode",
    "decode_from_server",
    "encode",
]

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
"""Largest frame a client may send, in [bytes]; the server closes with 1009 beyond it."""


# Readers built once: decoding a command must stay cheap at 500 Hz.
_COMMAND_MODE = choice(CommandMode)
_ESTOP_ACTION = choice(EstopAction)
_LEASE_ACTION = choice(LeaseAction)
_RECORD_ACTION = choice(RecordAction)
_ROLE = choice(Role)
_NAME = str_at_most(MAX_NAME_CHARS)
_TASK = str_at_most(MAX_TASK_CHARS)


# --- client -> server ---------------------------------------------------------------------


def _hello(m: Wire) -> Hello:
    return Hello(
        role=req(m, "hello", "role", _ROLE),
        name=opt(m, "hello", "name", _NAME, ""),
        protocol=opt(m, "hello", "protocol", read_int),
    )


def _lease(m: Wire) -> Lease:
    return Lease(
        action=req(m, "lease", "action", _LEASE_ACTION),
        force=opt(m, "lease", "force", read_bool, False),
    )


def _command(m: Wire) -> Command:
    seq = req(m, "command", "seq", read_int)
    mode = req(m, "command", "mode", _COMMAND_MODE)
    deadman = opt(m, "command", "deadman", read_bool)
    t_client_ns = opt(m, "command", "t_client_ns", read_int)
    if mode is CommandMode.JOINTS:
        return JointsCommand(seq, req(m, "command", "q", read_vector), deadman, t_client_ns)
    return VelocityCommand(
        seq=seq,
        linear=req(m, "command", "linear", read_vector3),
        angular=req(m, "command", "angular", read_vector3),
        gripper=req(m, "command", "gripper", read_float),
        deadman=deadman,
        t_client_ns=t_client_ns,
    )


def _record(m: Wire) -> Record:
    return Record(
        action=req(m, "record", "action", _RECORD_ACTION),
        task=opt(m, "record", "task", _TASK),
        success=opt(m, "record", "success", read_bool),
    )


_FROM_CLIENT: dict[str, Callable[[Wire], ClientMessage]] = {
    "hello": _hello,
    "lease": _lease,
    "command": _command,
    "record": _record,
    "estop": lambda m: Estop(req(m, "estop", "action", _ESTOP_ACTION)),
    "ping": lambda m: Ping(opt(m, "ping", "t_client_ns", read_int)),
}


# --- server -> client ---------------------------------------------------------------------


def _robot(value: object, f: str) -> RobotInfo:
    m = read_map(value, f)
    limits = req(m, f, "limits", read_map)
    lim = f"{f}.limits"
    return RobotInfo(
        name=req(m, f, "name", read_str),
        joint_names=req(m, f, "joint_names", read_strings),
        lower=req(limits, lim, "lower", read_vector),
        upper=req(limits, lim, "upper", read_vector),
        max_velocity=req(limits, lim, "max_velocity", read_vector),
        max_effort=req(limits, lim, "max_effort", read_vector),
        cameras=req(m, f, "cameras", read_strings),
    )


def _welcome(m: Wire) -> Welcome:
    return Welcome(
        protocol=req(m, "welcome", "protocol", read_int),
        client_id=req(m, "welcome", "client_id", read_int),
        rate_hz=req(m, "welcome", "rate_hz", read_float),
        robot=req(m, "welcome", "robot", _robot),
        role=req(m, "welcome", "role", _ROLE),
        holder=opt(m, "welcome", "holder", read_int),
        holder_name=opt(m, "welcome", "holder_name", read_str),
        estop=opt(m, "welcome", "estop", read_bool, False),
        recording=opt(m, "welcome", "recording", read_bool, False),
    )


def _recording(value: object, f: str) -> RecordingInfo:
    m = read_map(value, f)
    return RecordingInfo(
        active=req(m, f, "active", read_bool),
        episode_index=opt(m, f, "episode_index", read_int),
        elapsed_s=opt(m, f, "elapsed_s", read_float, 0.0),
        frames=opt(m, f, "frames", read_int, 0),
    )


def _loop(value: object, f: str) -> LoopStats:
    m = read_map(value, f)
    return LoopStats(
        rate_hz=opt(m, f, "rate_hz", read_float, 0.0),
        jitter_p99_ms=opt(m, f, "jitter_p99_ms", read_float, 0.0),
        overruns=opt(m, f, "overruns", read_int, 0),
    )


def _state(m: Wire) -> State:
    return State(
        t_ns=req(m, "state", "t_ns", read_int),
        q=req(m, "state", "q", read_vector),
        dq=req(m, "state", "dq", read_vector),
        tau=req(m, "state", "tau", read_vector),
        ee_force=req(m, "state", "ee_force", read_vector3),
        seq=opt(m, "state", "seq", read_int),
        estop=req(m, "state", "estop", read_bool),
        recording=req(m, "state", "recording", _recording),
        grasp_force=opt(m, "state", "grasp_force", read_float, 0.0),
        loop=opt(m, "state", "loop", _loop, LoopStats()),
        safety=opt(m, "state", "safety", read_counters, {}),
        faults=opt(m, "state", "faults", read_strings, ()),
        t_client_ns=opt(m, "state", "t_client_ns", read_int),
    )


def _frame(m: Wire) -> CameraFrame:
    return CameraFrame(
        camera=req(m, "frame", "camera", read_str),
        t_ns=req(m, "frame", "t_ns", read_int),
        seq=req(m, "frame", "seq", read_int),
        width=req(m, "frame", "width", read_int),
        height=req(m, "frame", "height", read_int),
        data=req(m, "frame", "data", read_bytes),
        format=opt(m, "frame", "format", read_str, "jpeg"),
    )


def _record_status(m: Wire) -> RecordStatus:
    return RecordStatus(
        active=req(m, "record", "active", read_bool),
        action=opt(m, "record", "action", _RECORD_ACTION),
        task=opt(m, "record", "task", read_str),
        success=opt(m, "record", "success", read_bool),
        by=opt(m, "record", "by", read_int),
        reason=opt(m, "record", "reason", read_str, ""),
    )


def _error(m: Wire) -> ErrorReply:
    code = req(m, "error", "code", read_str)
    return ErrorReply(
        # A newer server may send codes this client does not know: keep them as text.
        code=ErrorCode(code) if code in ErrorCode._value2member_map_ else code,
        message=req(m, "error", "message", read_str),
        ref_type=opt(m, "error", "ref_type", read_str),
        seq=opt(m, "error", "seq", read_int),
    )


_FROM_SERVER: dict[str, Callable[[Wire], ServerMessage]] = {
    "welcome": _welcome,
    "state": _state,
    "frame": _frame,
    "lease": lambda m: LeaseStatus(
        holder=opt(m, "lease", "holder", read_int),
        granted=req(m, "lease", "granted", read_bool),
        holder_name=opt(m, "lease", "holder_name", read_str),
    ),
    "record": _record_status,
    "estop": lambda m: EstopStatus(
        latched=req(m, "estop", "latched", read_bool),
        by=opt(m, "estop", "by", read_int),
        reason=opt(m, "estop", "reason", read_str, ""),
    ),
    "error": _error,
    "pong": lambda m: Pong(
        t_server_ns=req(m, "pong", "t_server_ns", read_int),
        t_client_ns=opt(m, "pong", "t_client_ns", read_int),
    ),
}


# --- the boundaries -----------------------------------------------------------------------


def _reject_constant(name: str) -> NoReturn:
    fail(ErrorCode.NOT_FINITE, f"JSON has no {name}; send finite numbers")


def _parse(data: bytes | str) -> Wire:
    """One frame to a map. The only place where msgpack and json exceptions are caught."""
    if len(data) > MAX_MESSAGE_BYTES:
        fail(ErrorCode.TOO_LARGE, f"message of {len(data)} bytes; at most {MAX_MESSAGE_BYTES}")
    framing = "JSON" if isinstance(data, str) else "msgpack"
    try:
        if isinstance(data, str):
            obj = json.loads(data, parse_constant=_reject_constant)
        else:
            obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except ProtocolError:
        raise
    except (ValueError, TypeError, RecursionError, msgpack.UnpackException) as exc:
        detail = str(exc) or type(exc).__name__
        raise ProtocolError(
            ErrorCode.BAD_ENCODING, f"not valid {framing} ({detail}); send one map per frame"
        ) from exc
    if type(obj) is not dict:
        fail(ErrorCode.BAD_ENCODING, f"a message must be a {framing} map, got {describe(obj)}")
    return obj


def _dispatch(data: bytes | str, table: dict[str, Callable[[Wire], Any]]) -> Any:
    m = _parse(data)
    kind = m.get("type")
    if kind is None:
        fail(ErrorCode.MISSING_TYPE, "every message needs a 'type' field")
    parse = table.get(kind) if type(kind) is str else None
    if parse is None:
        fail(ErrorCode.UNKNOWN_TYPE, f"unknown type {describe(kind)}; known: {', '.join(table)}")
    try:
        return parse(m)
    except ProtocolError as exc:
        exc.ref_type = kind
        seq = m.get("seq")
        exc.seq = seq if type(seq) is int and INT64_MIN <= seq <= INT64_MAX else None
        raise


def decode(data: bytes | str) -> ClientMessage:
    """Decode one frame that a client sent to the server.

    Args:
        data: A binary frame (msgpack) or a text frame (JSON).

    Raises:
        ProtocolError: The frame is not a valid client message; ``code`` says why, and
            ``ref_type``/``seq`` name the message when they could be read.
    """
    msg: ClientMessage = _dispatch(data, _FROM_CLIENT)
    return msg


def decode_from_server(data: bytes | str) -> ServerMessage:
    """Decode one frame that the server sent to a client (for ``TeleopClient``).

    Raises:
        ProtocolError: The frame is not a valid server message.
    """
    msg: ServerMessage = _dispatch(data, _FROM_SERVER)
    return msg


def _json_default(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(msg: Message, binary: bool) -> bytes | str:
    """Encode a message as a binary (msgpack) or text (JSON) frame.

    Args:
        msg: Any client or server message.
        binary: True for msgpack bytes, False for JSON text. Answer a client in the
            framing it used.

    Raises:
        ProtocolError: ``not_finite`` if a float in ``msg`` is NaN or ±inf.
    """
    wire = msg.to_wire()
    if binary:
        out: bytes = msgpack.packb(wire, use_bin_type=True)
        return out
    try:
        return json.dumps(wire, allow_nan=False, separators=(",", ":"), default=_json_default)
    except ValueError as exc:  # backstop: to_wire() already checks every float field
        raise ProtocolError(ErrorCode.NOT_FINITE, f"cannot encode '{msg.type}': {exc}") from exc


def check_command_shape(cmd: Command, joint_names: Sequence[str]) -> None:
    """Check a decoded command against the robot, which the codec alone does not know.

    Args:
        cmd: A decoded command.
        joint_names: The robot's joint names, the gripper last.

    Raises:
        ProtocolError: ``bad_shape`` when ``cmd.q`` does not have one entry per joint.
    """
    if isinstance(cmd, JointsCommand) and len(cmd.q) != len(joint_names):
        raise ProtocolError(
            ErrorCode.BAD_SHAPE,
            f"'command.q' has {len(cmd.q)} entries; this robot takes {len(joint_names)}: "
            f"{', '.join(joint_names)} (arm joints in rad, then the gripper opening in [0, 1])",
            ref_type="command",
            seq=cmd.seq,
        )
