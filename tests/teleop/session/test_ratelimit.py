"""The token bucket and the warn-then-disconnect flood decision, with injected time."""

from __future__ import annotations

import pytest

from teleop.errors import ConfigError
from teleop.session.ratelimit import FloodGuard, TokenBucket, Verdict

MS = 1_000_000  # [ns]


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_hz=1000.0, burst=10)
    assert [bucket.take(0) for _ in range(11)] == [True] * 10 + [False]
    assert bucket.take(1 * MS)  # one token back after 1 ms
    assert not bucket.take(1 * MS)
    assert [bucket.take(100 * MS) for _ in range(11)] == [True] * 10 + [False]  # capped


def test_time_running_backwards_grants_nothing() -> None:
    bucket = TokenBucket(rate_hz=1000.0, burst=1)
    assert bucket.take(50 * MS)
    assert not bucket.take(10 * MS)
    assert not bucket.take(50 * MS)
    assert bucket.take(51 * MS)


def test_bucket_checks_its_arguments() -> None:
    with pytest.raises(ConfigError):
        TokenBucket(rate_hz=0.0, burst=1)


def test_flood_guard_warns_once_then_disconnects_after_the_grace() -> None:
    guard = FloodGuard(rate_hz=1000.0, burst=2, grace_s=1.0)
    assert [guard.admit(0) for _ in range(4)] == [
        Verdict.ACCEPT,
        Verdict.ACCEPT,
        Verdict.WARN,
        Verdict.DROP,
    ]
    assert guard.admit(999 * MS) is Verdict.ACCEPT  # refilled
    assert [guard.admit(999 * MS) for _ in range(2)] == [Verdict.ACCEPT, Verdict.DROP]
    assert guard.admit(999 * MS) is Verdict.DROP
    assert guard.admit(1000 * MS) is Verdict.ACCEPT  # 1 ms: one token back
    assert guard.admit(1000 * MS) is Verdict.DISCONNECT
    assert guard.dropped == 5


def test_flood_guard_forgives_after_a_quiet_grace() -> None:
    guard = FloodGuard(rate_hz=1000.0, burst=1, grace_s=1.0)
    assert [guard.admit(0), guard.admit(0)] == [Verdict.ACCEPT, Verdict.WARN]
    assert guard.admit(1500 * MS) is Verdict.ACCEPT  # quiet for more than the grace
    assert guard.admit(1500 * MS) is Verdict.WARN  # a new flood starts with a new warning
