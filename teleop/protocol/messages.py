"""The protocol's message types: frozen dataclasses, one per message, and their enums.

Each message knows its wire ``type`` and builds its wire map with ``to_wire()``; reading
maps lives in :mod:`teleop.protocol.readers`, framing in :mod:`teleop.protocol.codec`.
Vectors are ``tuple[float, ...]`` in SI units (rad, rad/s, N·m, N, m/s); times are
``int`` nanoseconds. ``docs/protocol.md`` has one table per message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from teleop.errors import ErrorCode, ProtocolError
from teleop.protocol.wire import out_float, out_vector

if TYPE_CHECKING:
    from robots.base import RobotSpec

MAX_TASK_CHARS = 1000
MAX_NAME_CHARS = 64

Vector = tuple[float, ...]


class Role(StrEnum):
    OPERATOR = "operator"
    OBSERVER = "observer"


class LeaseAction(StrEnum):
    REQUEST = "request"
    RELEASE = "release"


class CommandMode(StrEnum):
    JOINTS = "joints"
    EE_VELOCITY = "ee_velocity"


class RecordAction(StrEnum):
    START = "start"
    STOP = "stop"
    DISCARD = "discard"


class EstopAction(StrEnum):
    TRIGGER = "trigger"
    RESET = "reset"


class _Plain:
    """Mixin for messages whose fields are all plain values (no float to check).

    The wire map is ``type`` plus every field under its own name.
    """

    __slots__ = ()
    type: ClassVar[str]
    __match_args__: ClassVar[tuple[str, ...]]

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type}
        for name in self.__match_args__:  # the dataclass fields, in order
            wire[name] = getattr(self, name)
        return wire


# --- client -> server ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Hello(_Plain):
    """First message of every client: who it is and what it wants to do."""

    type: ClassVar[str] = "hello"
    role: Role
    name: str = ""
    protocol: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Lease(_Plain):
    """Ask for the operator lease, or give it back. ``force`` takes it over (admin only)."""

    type: ClassVar[str] = "lease"
    action: LeaseAction
    force: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class JointsCommand:
    """Joint targets: arm joints in [rad], then the gripper opening in [0, 1]."""

    type: ClassVar[str] = "command"
    seq: int
    q: Vector
    deadman: bool | None = None
    t_client_ns: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "command",
            "seq": self.seq,
            "mode": "joints",
            "q": out_vector(self.q, "command.q"),
            "deadman": self.deadman,
            "t_client_ns": self.t_client_ns,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class VelocityCommand:
    """End-effector twist in the base frame: ``linear`` [m/s], ``angular`` [rad/s].

    ``gripper`` is the gripper opening target in [0, 1]; ``deadman=False`` holds the arm.
    """

    type: ClassVar[str] = "command"
    seq: int
    linear: Vector
    angular: Vector
    gripper: float
    deadman: bool | None = None
    t_client_ns: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "command",
            "seq": self.seq,
            "mode": "ee_velocity",
            "linear": out_vector(self.linear, "command.linear"),
            "angular": out_vector(self.angular, "command.angular"),
            "gripper": out_float(self.gripper, "command.gripper"),
            "deadman": self.deadman,
            "t_client_ns": self.t_client_ns,
        }


Command = JointsCommand | VelocityCommand


@dataclasses.dataclass(frozen=True, slots=True)
class Record(_Plain):
    """Start, stop or discard an episode. ``task`` matters on start, ``success`` on stop."""

    type: ClassVar[str] = "record"
    action: RecordAction
    task: str | None = None
    success: bool | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Estop(_Plain):
    """Trigger (anyone) or reset (the lease holder) the e-stop latch."""

    type: ClassVar[str] = "estop"
    action: EstopAction


@dataclasses.dataclass(frozen=True, slots=True)
class Ping(_Plain):
    """Round-trip probe; ``t_client_ns`` comes back in the ``pong``."""

    type: ClassVar[str] = "ping"
    t_client_ns: int | None = None


ClientMessage = Hello | Lease | JointsCommand | VelocityCommand | Record | Estop | Ping


# --- server -> client ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RobotInfo:
    """What a client needs to know about the robot. Vectors have one entry per joint."""

    name: str
    joint_names: tuple[str, ...]
    lower: Vector
    upper: Vector
    max_velocity: Vector
    max_effort: Vector
    cameras: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: RobotSpec) -> RobotInfo:
        return cls(
            name=spec.name,
            joint_names=spec.joint_names,
            lower=tuple(spec.lower.tolist()),
            upper=tuple(spec.upper.tolist()),
            max_velocity=tuple(spec.max_velocity.tolist()),
            max_effort=tuple(spec.max_effort.tolist()),
            cameras=tuple(c.name for c in spec.cameras),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "limits": {
                "lower": out_vector(self.lower, "robot.limits.lower"),
                "upper": out_vector(self.upper, "robot.limits.upper"),
                "max_velocity": out_vector(self.max_velocity, "robot.limits.max_velocity"),
                "max_effort": out_vector(self.max_effort, "robot.limits.max_effort"),
            },
            "cameras": list(self.cameras),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Welcome:
    """The answer to ``hello``."""

    type: ClassVar[str] = "welcome"
    protocol: int
    client_id: int
    rate_hz: float
    robot: RobotInfo
    role: Role
    holder: int | None = None
    holder_name: str | None = None
    estop: bool = False
    recording: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "welcome",
            "protocol": self.protocol,
            "client_id": self.client_id,
            "rate_hz": out_float(self.rate_hz, "welcome.rate_hz"),
            "robot": self.robot.to_wire(),
            "role": self.role,
            "holder": self.holder,
            "holder_name": self.holder_name,
            "estop": self.estop,
            "recording": self.recording,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class RecordingInfo:
    """``state.recording``: the episode being recorded, if any."""

    active: bool = False
    episode_index: int | None = None
    elapsed_s: float = 0.0
    frames: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "episode_index": self.episode_index,
            "elapsed_s": out_float(self.elapsed_s, "recording.elapsed_s"),
            "frames": self.frames,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class LoopStats:
    """``state.loop``: achieved control rate [Hz], tick jitter p99 [ms], overrun count."""

    rate_hz: float = 0.0
    jitter_p99_ms: float = 0.0
    overruns: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "rate_hz": out_float(self.rate_hz, "loop.rate_hz"),
            "jitter_p99_ms": out_float(self.jitter_p99_ms, "loop.jitter_p99_ms"),
            "overruns": self.overruns,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class State:
    """One robot reading, streamed to every client. Units as in ``robots.RobotState``."""

    type: ClassVar[str] = "state"
    t_ns: int
    q: Vector
    dq: Vector
    tau: Vector
    ee_force: Vector
    seq: int | None
    estop: bool
    recording: RecordingInfo
    grasp_force: float = 0.0
    loop: LoopStats = LoopStats()
    safety: Mapping[str, int] = dataclasses.field(default_factory=dict)
    faults: tuple[str, ...] = ()
    t_client_ns: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": "state",
            "t_ns": self.t_ns,
            "q": out_vector(self.q, "state.q"),
            "dq": out_vector(self.dq, "state.dq"),
            "tau": out_vector(self.tau, "state.tau"),
            "ee_force": out_vector(self.ee_force, "state.ee_force"),
            "seq": self.seq,
            "estop": self.estop,
            "recording": self.recording.to_wire(),
            "grasp_force": out_float(self.grasp_force, "state.grasp_force"),
            "loop": self.loop.to_wire(),
            "safety": dict(self.safety),
            "faults": list(self.faults),
            "t_client_ns": self.t_client_ns,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class CameraFrame(_Plain):
    """One JPEG image; ``t_ns`` is its capture time, ``seq`` the camera's frame counter."""

    type: ClassVar[str] = "frame"
    camera: str
    t_ns: int
    seq: int
    width: int
    height: int
    data: bytes
    format: str = "jpeg"


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseStatus(_Plain):
    """Who holds the lease. ``granted`` is true when the recipient is the holder."""

    type: ClassVar[str] = "lease"
    holder: int | None
    granted: bool
    holder_name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RecordStatus(_Plain):
    """What just happened to the recording, and whether one is now active."""

    type: ClassVar[str] = "record"
    active: bool
    action: RecordAction | None = None
    task: str | None = None
    success: bool | None = None
    by: int | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class EstopStatus(_Plain):
    """The e-stop latch; ``by`` is the client that changed it (None: the server)."""

    type: ClassVar[str] = "estop"
    latched: bool
    by: int | None = None
    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorReply(_Plain):
    """An ``error`` message: a stable ``code`` and a ``message`` that says what to do."""

    type: ClassVar[str] = "error"
    code: ErrorCode | str
    message: str
    ref_type: str | None = None
    seq: int | None = None

    @classmethod
    def from_exception(cls, exc: ProtocolError) -> ErrorReply:
        return cls(exc.code, exc.message, exc.ref_type, exc.seq)


@dataclasses.dataclass(frozen=True, slots=True)
class Pong(_Plain):
    """The answer to ``ping``: the server's receive time and the client's echoed time."""

    type: ClassVar[str] = "pong"
    t_server_ns: int
    t_client_ns: int | None = None


ServerMessage = (
    Welcome | State | CameraFrame | LeaseStatus | RecordStatus | EstopStatus | ErrorReply | Pong
)
Message = ClientMessage | ServerMessage
