"""The wire protocol: frames in, typed messages out; messages in, frames out.

No I/O happens here. :func:`decode` turns one websocket frame from a client into a frozen
dataclass, or raises :class:`~teleop.errors.ProtocolError` with a stable
:class:`ErrorCode`; :func:`encode` does the reverse; :func:`decode_from_server` is the
client's side. Binary frames carry msgpack (Python clients), text frames carry JSON (the
browser), and a reply uses the framing its client used. ``docs/protocol.md`` is the
specification. Import everything from here:

- :mod:`.codec`: the boundaries (framing, dispatch on ``type``, the shape check);
- :mod:`.readers`: one reader per message's wire map, in both directions;
- :mod:`.messages`: the message types, frozen dataclasses, and their enums;
- :mod:`.wire`: the value rules every field follows, both ways.

Representation:
    * Messages are the frozen dataclasses of ``teleop.protocol.messages``.
    * Vectors are ``tuple[float, ...]`` in SI units: immutable, comparable, and cheap to
      build from a decoded list; the control loop takes ``np.asarray(cmd.q)``.
    * The value rules of ``teleop.protocol.wire`` apply to every field, both ways: NaN,
      ±inf, ``1e400`` and integers outside int64 are refused with ``not_finite``, so
      ``decode(encode(m)) == m`` for every message that encodes.
    * Unknown fields are ignored (forward compatible); required fields are enforced.
    * In JSON, ``bytes`` (a camera frame's JPEG) travel as base64 text.
"""

from teleop.errors import ErrorCode, ProtocolError
from teleop.protocol.codec import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    check_command_shape,
    decode,
    decode_from_server,
    encode,
)
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

__all__ = [
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
