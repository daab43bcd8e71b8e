"""Readers of each message's wire map: one function per message type, in both directions.

:data:`FROM_CLIENT` and :data:`FROM_SERVER` map a message ``type`` to the function that
reads its map into a frozen dataclass of :mod:`teleop.protocol.messages`; every field
goes through a reader of :mod:`teleop.protocol.wire`, so mypy checks each field's type
against its dataclass. Framing and dispatch live in :mod:`teleop.protocol.codec`.
"""

from __future__ import annotations

from collections.abc import Callable

from teleop.errors import ErrorCode
from teleop.protocol.messages import (
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
from teleop.protocol.wire import (
    Wire,
    choice,
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


FROM_CLIENT: dict[str, Callable[[Wire], ClientMessage]] = {
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


FROM_SERVER: dict[str, Callable[[Wire], ServerMessage]] = {
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
