"""Value rules shared by every message, in both directions: numbers, vectors, strings.

Readers take a decoded value and a dotted field name (``"command.q"``) and return the
typed value or raise :class:`~teleop.errors.ProtocolError` naming the field and what it
must be. Writers (``out_*``) check outgoing values by the same rules, so anything the
server sends, its clients can decode.

The rules:
    * a number is a float or an int, never a bool; ints become floats where a float is
      expected;
    * NaN, ±inf, a float overflow (``1e400`` in JSON) and an int outside int64 are
      refused with ``not_finite``;
    * a vector is an array of numbers, refused entry by entry.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, NoReturn, TypeVar, overload

from teleop.errors import ErrorCode, ProtocolError

T = TypeVar("T")
D = TypeVar("D")
E = TypeVar("E", bound=StrEnum)

Wire = dict[str, Any]
Reader = Callable[[object, str], T]
"""Reads one decoded value (and its dotted field name, for errors) into a ``T``."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def fail(code: ErrorCode, message: str) -> NoReturn:
    raise ProtocolError(code, message)


def describe(value: object) -> str:
    """A short ``type repr`` of a value, for error messages."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def bad(field: str, expected: str, value: object) -> NoReturn:
    fail(ErrorCode.BAD_FIELD, f"'{field}' must be {expected}, got {describe(value)}")


def req(m: Wire, where: str, name: str, read: Reader[T]) -> T:
    """Read the required field ``name`` of the map ``m`` (of message ``where``)."""
    try:
        value = m[name]
    except KeyError:
        fail(ErrorCode.BAD_FIELD, f"'{where}.{name}' is required")
    return read(value, f"{where}.{name}")


@overload
def opt(m: Wire, where: str, name: str, read: Reader[T]) -> T | None: ...


@overload
def opt(m: Wire, where: str, name: str, read: Reader[T], default: D) -> T | D: ...


def opt(m: Wire, where: str, name: str, read: Reader[Any], default: object = None) -> object:
    """Read an optional field; missing and null both give ``default``."""
    value = m.get(name)
    return default if value is None else read(value, f"{where}.{name}")


def read_int(value: object, field: str) -> int:
    if type(value) is not int:
        bad(field, "an integer", value)
    if not INT64_MIN <= value <= INT64_MAX:
        fail(ErrorCode.NOT_FINITE, f"'{field}' = {value} is outside the int64 range")
    return value


def read_float(value: object, field: str) -> float:
    if type(value) is float:
        if not math.isfinite(value):
            fail(ErrorCode.NOT_FINITE, f"'{field}' is {value}; send a finite number")
        return value
    if type(value) is int:
        return float(read_int(value, field))
    bad(field, "a number", value)


def read_vector(value: object, field: str) -> tuple[float, ...]:
    if type(value) is not list:
        bad(field, "an array of numbers", value)
    for i, x in enumerate(value):
        if type(x) is int:
            read_int(x, f"{field}[{i}]")
        elif type(x) is not float:
            bad(f"{field}[{i}]", "a number", x)
    out = tuple(map(float, value))
    # A sum is finite only if every entry is: look closer only when it is not.
    if not math.isfinite(sum(out)):
        for i, x in enumerate(out):
            if not math.isfinite(x):
                fail(ErrorCode.NOT_FINITE, f"'{field}[{i}]' is {x}; send finite numbers")
    return out


def read_vector3(value: object, field: str) -> tuple[float, ...]:
    out = read_vector(value, field)
    if len(out) != 3:
        fail(ErrorCode.BAD_SHAPE, f"'{field}' has {len(out)} entries, expected 3 (x, y, z)")
    return out


def read_bool(value: object, field: str) -> bool:
    if type(value) is not bool:
        bad(field, "true or false", value)
    return value


def read_str(value: object, field: str) -> str:
    if type(value) is not str:
        bad(field, "a string", value)
    return value


def str_at_most(max_chars: int) -> Reader[str]:
    def read(value: object, field: str) -> str:
        text = read_str(value, field)
        if len(text) > max_chars:
            fail(ErrorCode.BAD_FIELD, f"'{field}' has {len(text)} characters; at most {max_chars}")
        return text

    return read


def read_strings(value: object, field: str) -> tuple[str, ...]:
    if type(value) is not list:
        bad(field, "an array of strings", value)
    return tuple(read_str(x, f"{field}[{i}]") for i, x in enumerate(value))


def read_map(value: object, field: str) -> Wire:
    if type(value) is not dict:
        bad(field, "a map", value)
    return value


def read_counters(value: object, field: str) -> dict[str, int]:
    return {
        read_str(k, field): read_int(n, f"{field}.{k}") for k, n in read_map(value, field).items()
    }


def choice(enum: type[E]) -> Reader[E]:
    """A reader that accepts one of ``enum``'s values."""

    members: dict[object, E] = dict(enum._value2member_map_)

    def read(value: object, field: str) -> E:
        member = members.get(value) if type(value) is str else None
        if member is None:
            bad(field, " or ".join(f"'{e.value}'" for e in enum), value)
        return member

    return read


def read_bytes(value: object, field: str) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:  # JSON carries bytes as base64 text
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(ErrorCode.BAD_FIELD, f"'{field}' is not valid base64") from exc
    bad(field, "bytes (base64 text in JSON)", value)


def out_vector(v: Sequence[float], field: str) -> list[float]:
    """``v`` as a list of floats for the wire; refuses NaN and ±inf like the readers."""
    out = [float(x) for x in v]
    if not math.isfinite(sum(out)):
        for i, x in enumerate(out):
            if not math.isfinite(x):
                fail(ErrorCode.NOT_FINITE, f"cannot send '{field}[{i}]' = {x}: not finite")
    return out


def out_float(x: float, field: str) -> float:
    """``x`` for the wire; refuses NaN and ±inf like the readers."""
    if not math.isfinite(x):
        fail(ErrorCode.NOT_FINITE, f"cannot send '{field}' = {x}: not finite")
    return x
