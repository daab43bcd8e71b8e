"""Exceptions raised by the ``teleop`` package.

Every exception that ``teleop`` raises on purpose derives from :class:`TeleopError`.
Foreign exceptions (``msgpack``, ``json``, ``binascii``) are translated where they
enter, with ``raise ... from exc``, so callers catch one tree::

    TeleopError
    ├── ProtocolError        a message that cannot be decoded, or breaks the protocol;
    │                        carries a stable wire ``code``, an :class:`ErrorCode`
    ├── ConfigError          a bad setting (also a ValueError), e.g. a rate <= 0
    └── UnknownClientError   the session was given a client id it never issued,
                             or one that has already disconnected (a server bug)
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable ``error.code`` values sent to clients; ``docs/protocol.md`` says when."""

    BAD_ENCODING = "bad_encoding"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    NOT_FINITE = "not_finite"
    BAD_SHAPE = "bad_shape"
    TOO_LARGE = "too_large"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    NOT_READY = "not_ready"
    STALE_SEQ = "stale_seq"
    NO_LEASE = "no_lease"
    FORBIDDEN_ROLE = "forbidden_role"
    LEASE_HELD = "lease_held"
    UNAUTHORIZED = "unauthorized"
    ESTOP_LATCHED = "estop_latched"
    UNSAFE_COMMAND = "unsafe_command"
    BAD_STATE = "bad_state"
    RATE_LIMITED = "rate_limited"
    RECORD_FAILED = "record_failed"


class TeleopError(Exception):
    """Root of every error raised by the ``teleop`` package."""


class ProtocolError(TeleopError):
    """A message that cannot be decoded or encoded, or that breaks the protocol.

    The server answers it with an ``error`` message carrying ``code`` and ``message``.

    Attributes:
        code: A stable error code.
        message: What was wrong and what to send instead, for a human.
        ref_type: The ``type`` of the offending message, when it could be read.
        seq: The ``seq`` of the offending command, when it could be read.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref_type: str | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.ref_type = ref_type
        self.seq = seq


class ConfigError(TeleopError, ValueError):
    """A setting is out of range; the message names it and says what it must be."""


class UnknownClientError(TeleopError, KeyError):
    """The session does not know this client id: it was never issued, or it has left."""

    def __str__(self) -> str:
        # KeyError's str() would quote the message.
        return str(self.args[0]) if self.args else ""
