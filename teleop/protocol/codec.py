"""The codec's boundaries: one frame in, one typed message out; a message in, a frame out.

No I/O happens here. :func:`decode` turns one websocket frame from a client into a frozen
dataclass, or raises :class:`~teleop.errors.ProtocolError` with a stable
:class:`~teleop.errors.ErrorCode`; :func:`encode` does the reverse;
:func:`decode_from_server` is the client's side. This is the only module that calls
msgpack and json; the per-message readers are in :mod:`teleop.protocol.readers`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn, TypeVar

import msgpack

from teleop.errors import ErrorCode, ProtocolError
from teleop.protocol.messages import ClientMessage, Command, JointsCommand, Message, ServerMessage
from teleop.protocol.readers import FROM_CLIENT, FROM_SERVER
from teleop.protocol.wire import INT64_MAX, INT64_MIN, Wire, describe, fail

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
"""Largest frame a client may send, in [bytes]; the server closes with 1009 beyond it."""

M = TypeVar("M")


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


def _dispatch(data: bytes | str, table: Mapping[str, Callable[[Wire], M]]) -> M:
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
    return _dispatch(data, FROM_CLIENT)


def decode_from_server(data: bytes | str) -> ServerMessage:
    """Decode one frame that the server sent to a client (for ``TeleopClient``).

    Raises:
        ProtocolError: The frame is not a valid server message.
    """
    return _dispatch(data, FROM_SERVER)


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
