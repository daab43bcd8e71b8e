"""Exceptions raised by the ``teleop`` package.

Every exception that ``teleop`` raises on purpose derives from :class:`TeleopError`.
Foreign exceptions (``msgpack``, ``json``, ``binascii``, ``sqlite3``, ``psycopg``,
``cryptography``, PyAV) are translated where they enter, with ``raise ... from exc``, so
callers catch one tree. Each package's root is defined in that package; the tree::

    TeleopError
    ├── ProtocolError            a message that cannot be decoded, or breaks the protocol;
    │                            carries a stable wire ``code``, an :class:`ErrorCode`
    ├── ConfigError              a bad setting (also a ValueError), e.g. a rate <= 0
    ├── UnknownClientError       the session was given a client id it never issued, or
    │                            one that has already disconnected (a server bug; also a
    │                            KeyError)
    ├── SafetyConfigError        teleop.safety: a SafetyConfig value is out of range
    │                            (also a ValueError)
    ├── MeasurementError         teleop.safety: the measured q to start holding from is not
    │                            a finite vector of the robot's dof (also a ValueError)
    ├── ClientError              teleop.client: the server refused a request, or the
    │                            connection failed; ``code`` says why
    ├── RecorderError            teleop.recorder
    │   ├── RecorderStateError   the call does not fit the recorder's state
    │   ├── RecorderInputError   a task text or config value is out of range (a ValueError)
    │   ├── DatasetError         the dataset cannot take these episodes, or is in use
    │   ├── RecorderIOError      writing failed: permissions, a full disk, a dead encoder
    │   └── JournalError         a leftover journal cannot be read or holds nothing
    ├── QualityError             teleop.quality
    │   ├── DatasetReadError     a dataset, or one of an episode's files, cannot be read
    │   └── ThresholdsError      a threshold is out of range or unknown (also a ConfigError)
    ├── SigningError             teleop.quality.signing: the station key cannot be created
    │                            or read, or a public key is malformed
    ├── LedgerError              teleop.ledger: the ledger cannot be reached, read or written
    ├── GamepadError             teleop.clients.gamepad
    │   ├── MappingError         a bad binding or setting (also a ValueError)
    │   └── PadError             pygame/SDL could not start its joystick support
    └── LeaderError              teleop.clients.leader
        └── LeaderConfigError    a calibration that does not fit the follower, or a bad
                                 setting (also a ValueError)

``robots`` never imports ``teleop`` and has its own tree, rooted at
``robots.errors.RobotError`` (drawn in ``robots/errors.py``, ``robots/serial/errors.py`` and
``robots/kinematics/__init__.py``).
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
