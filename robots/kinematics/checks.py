"""The kinematics' input checks: each value as the float64 array the solver needs.

A value that cannot be used raises :class:`IKError` (a call's input) or
``RobotConfigError`` (a joint limit), naming the value and what it must be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from robots.base import FloatArray, RobotConfigError, RobotError


class IKError(RobotError):
    """A kinematics call got an input it cannot use (wrong length, NaN or ±inf), or the
    :class:`~robots.kinematics.Kinematics` was already closed."""


def vector(name: str, value: ArrayLike, size: int, labels: Sequence[str] = ()) -> FloatArray:
    """``value`` as a float64 vector of ``size`` finite entries, or IKError."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise IKError(f"{name} is not a numeric vector: {exc}") from exc
    if arr.shape != (size,):
        what = f": {', '.join(labels)}" if labels else ""
        raise IKError(f"{name} has shape {arr.shape}, expected ({size},){what}")
    finite = np.isfinite(arr)
    if not finite.all():
        i = int(np.argmin(finite))
        where = f"'{labels[i]}'" if labels else f"[{i}]"
        raise IKError(f"{name} {where} is {arr[i]}; every entry must be finite")
    return arr


def quaternion(value: ArrayLike) -> FloatArray:
    """``value`` as a unit xyzw quaternion, or IKError."""
    arr = vector("orientation (xyzw quaternion)", value, 4)
    norm = float(np.linalg.norm(arr))
    if norm < 1e-9:
        raise IKError(f"orientation {arr.tolist()} has zero length; expected xyzw")
    return arr / norm


def nonnegative(name: str, value: float) -> float:
    """``value`` as a finite float >= 0, or IKError."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise IKError(f"{name} is {value!r}; expected a finite number >= 0") from exc
    if not math.isfinite(number) or number < 0.0:
        raise IKError(f"{name} is {value}; expected a finite number >= 0")
    return number


def limits(name: str, value: ArrayLike, size: int) -> FloatArray:
    """Joint limits as ``size`` finite floats, or RobotConfigError."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise RobotConfigError(f"{name} limits {arr.tolist()} must be {size} finite numbers")
    return arr
