"""The safety filter's arithmetic: each stage as a pure function over numbers and arrays.

No I/O, no clocks, no configuration objects: every limit is an argument, with its unit.
``teleop.safety`` composes these per tick; import from there. Joint vectors use the
``robots`` layout: arm joints in [rad], then the gripper opening in [0, 1].

A plain ``min``/``max`` clamp passes NaN through, so every function that moves a target
first replaces non-finite entries by the previous target ("do not move") and only then
clamps. The previous target itself is always finite: ``teleop.safety`` guarantees it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_NUMERIC_KINDS = "iuf"  # signed and unsigned ints, floats; not bools, strings, complex


class RejectReason(enum.Enum):
    """Why a command was refused (the arm holds and the client gets an error)."""

    NONFINITE = "nonfinite"  # NaN, ±inf, or an int too large for a float64
    SHAPE = "shape"  # wrong length or nesting, or not numbers at all
    JUMP = "jump"  # a joints target too far from its reference


@dataclass(frozen=True)
class Rejection:
    """A refused command: ``reason`` for counters, ``message`` for the client's error."""

    reason: RejectReason
    message: str


def as_finite_array(
    value: object, shape: tuple[int, ...], name: str, labels: Sequence[str] = ()
) -> FloatArray | Rejection:
    """Convert untrusted wire data into a finite float64 array of exactly ``shape``.

    Args:
        value: Whatever the decoder produced (lists, floats, ints of any size, junk).
        shape: The required shape, ``()`` for a scalar.
        name: Field name for messages, e.g. ``"q"``.
        labels: Optional names of the entries (joint names) for messages.

    Returns:
        A new float64 array, or a ``Rejection`` saying what is wrong.
    """
    if _finite_float_list(value, shape):  # what the wire decoders give; checked cheaply
        return np.array(value)
    arr = _to_float64(value, name)
    if isinstance(arr, Rejection):
        return arr
    if arr.shape != shape:
        hint = f" ({', '.join(labels)})" if labels else ""
        return Rejection(
            RejectReason.SHAPE, f"{name} has shape {arr.shape}, expected {shape}{hint}"
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        where = f"{name}[{labels[i]!r}]" if i < len(labels) else f"{name}[{i}]"
        return Rejection(RejectReason.NONFINITE, f"{where} is {arr.flat[i]}; send finite numbers")
    return arr


def _finite_float_list(value: object, shape: tuple[int, ...]) -> bool:
    return (
        len(shape) == 1
        and type(value) is list
        and len(value) == shape[0]
        and all(type(x) is float and math.isfinite(x) for x in value)
    )


def _to_float64(value: object, name: str) -> FloatArray | Rejection:
    try:
        raw = np.asarray(value)
        # Object arrays hold ints beyond int64, or junk such as None (which astype makes NaN).
        numbers = raw.dtype.kind != "O" or all(map(_is_number, raw.flat))
        if raw.dtype.kind not in _NUMERIC_KINDS + "O" or not numbers:
            raise TypeError(f"got {raw.dtype.name} data" if numbers else "got non-numbers")
        return raw.astype(np.float64)
    except OverflowError:
        return Rejection(RejectReason.NONFINITE, f"{name} holds a number too large for float64")
    except (TypeError, ValueError) as exc:
        return Rejection(RejectReason.SHAPE, f"{name} is not an array of numbers: {exc}")


def _is_number(x: object) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def is_stale(received_ns: int, now_ns: int, timeout_ns: int) -> bool:
    """Whether a command received at ``received_ns`` [ns] is older than ``timeout_ns`` [ns].

    Both times are on the server's clock; exactly ``timeout_ns`` old still counts as fresh.
    """
    return now_ns - received_ns > timeout_ns


# first_jump and the clamps loop over Python floats: a robot has a handful of joints, and
# for so few entries a loop costs less than half the numpy calls it replaces, hot or with
# the cold caches the control loop wakes up to.


def first_jump(q_new: FloatArray, q_ref: FloatArray, max_jump: float) -> int | None:
    """Index of the first entry of ``q_new`` more than ``max_jump`` [rad] from ``q_ref``.

    Pass arm joints only: the gripper may legitimately snap from open to closed.
    """
    for i, (new, ref) in enumerate(zip(q_new.tolist(), q_ref.tolist(), strict=True)):
        if not abs(new - ref) <= max_jump:  # NaN counts as a jump
            return i
    return None


def clamp_step(
    prev: FloatArray, desired: FloatArray, max_step: FloatArray | Sequence[float] | float
) -> tuple[FloatArray, bool]:
    """Move from ``prev`` towards ``desired`` by at most ``max_step`` per entry.

    Args:
        prev: Previous target, finite.
        desired: Wanted target; non-finite entries are treated as "stay at ``prev``".
        max_step: Largest move per entry, same units as the targets (>= 0).

    Returns:
        The new target and whether any entry was limited.
    """
    steps = _per_entry(max_step, len(prev))
    out: list[float] = []
    hit = False
    for p, d, m in zip(prev.tolist(), desired.tolist(), steps, strict=True):
        wanted = d if math.isfinite(d) else p
        # Untouched entries keep their exact value: p + (d - p) can differ from d by an ulp.
        if wanted - p > m:
            wanted, hit = p + m, True
        elif p - wanted > m:
            wanted, hit = p - m, True
        out.append(wanted)
    return np.array(out), hit


def cap_velocity(
    prev: FloatArray, desired: FloatArray, max_velocity: FloatArray, dt_s: float
) -> tuple[FloatArray, bool]:
    """Limit ``|target - prev| / dt_s`` to ``max_velocity`` [rad/s] per entry.

    ``dt_s`` [s] is the time since the previous tick; 0 allows no motion at all.
    """
    dt_s = max(dt_s, 0.0)
    return clamp_step(prev, desired, [v * dt_s for v in max_velocity.tolist()])


def limit_band(
    lower: FloatArray, upper: FloatArray, margin: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``[lower + margin, upper - margin]``, or the middle where the range is narrower."""
    lo, hi = lower + margin, upper - margin
    mid = (lower + upper) / 2.0
    narrow = lo > hi
    return np.where(narrow, mid, lo), np.where(narrow, mid, hi)


def clamp_limits(
    prev: FloatArray, desired: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, bool]:
    """Clamp ``desired`` into the band ``[lo, hi]``.

    A ``prev`` outside the band (an arm that started beyond the margin) widens the band to
    include ``prev``, so the target eases into the band at the rate limits instead of
    jumping there, and never moves further out.

    Returns:
        The clamped target and whether any entry was clamped.
    """
    out: list[float] = []
    hit = False
    entries = zip(prev.tolist(), desired.tolist(), lo.tolist(), hi.tolist(), strict=True)
    for p, d, low, high in entries:
        wanted = d if math.isfinite(d) else p
        clamped = min(max(wanted, min(low, p)), max(high, p))
        hit = hit or clamped != wanted
        out.append(clamped)
    return np.array(out), hit


def cap_norm(vector: FloatArray, max_norm: float) -> tuple[FloatArray, bool]:
    """Scale ``vector`` down to Euclidean norm ``max_norm``, keeping its direction.

    Safe for finite values near the float64 maximum, where ``np.linalg.norm`` overflows.
    """
    biggest = float(np.max(np.abs(vector), initial=0.0))
    if biggest == 0.0:
        return vector.copy(), False
    unit = vector / biggest
    if biggest * float(np.linalg.norm(unit)) <= max_norm:
        return vector.copy(), False
    return unit / np.linalg.norm(unit) * max_norm, True


def decay(vector: FloatArray, dt_s: float, tau_s: float, zero_below: float) -> FloatArray:
    """Exponential decay ``v * exp(-dt_s / tau_s)``, exactly zero once every entry is small.

    Args:
        vector: A velocity, e.g. a twist in [m/s] and [rad/s].
        dt_s: Time since the previous tick in [s].
        tau_s: Time constant in [s]: after ``tau_s`` the velocity is down to 37 %.
        zero_below: Entries all below this magnitude snap to exactly 0.
    """
    out = vector * math.exp(-max(dt_s, 0.0) / tau_s)
    if float(np.max(np.abs(out), initial=0.0)) < zero_below:
        return np.zeros_like(vector)
    return out


def _per_entry(limit: FloatArray | Sequence[float] | float, n: int) -> list[float]:
    """``limit`` as ``n`` floats: one per entry, or the same one for all."""
    if isinstance(limit, np.ndarray):
        return limit.tolist() if limit.ndim else [float(limit)] * n
    if isinstance(limit, Sequence):
        return [float(x) for x in limit]
    return [float(limit)] * n
