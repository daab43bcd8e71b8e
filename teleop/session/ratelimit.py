"""Per-client message rate limiting: a token bucket and the flood decision around it.

Pure classes with the time passed in [ns]. A client may send ``rate_hz`` messages per
second in the long run and ``burst`` more at once. The first message over the limit is
dropped with a warning; a client still over the limit ``grace_s`` after that is to be
disconnected. A client that stays within the limit for ``grace_s`` is forgiven.
"""

from __future__ import annotations

from enum import Enum

from teleop.errors import ConfigError


class Verdict(Enum):
    """What to do with one incoming message."""

    ACCEPT = "accept"
    WARN = "warn"  # drop it and tell the client it is over the limit
    DROP = "drop"  # drop it silently: the client was already told
    DISCONNECT = "disconnect"  # drop it and close the connection


class TokenBucket:
    """Allows ``rate_hz`` events per second on average, and ``burst`` at once.

    Args:
        rate_hz: Refill rate in [1/s].
        burst: Bucket size; the bucket starts full.
    """

    def __init__(self, rate_hz: float, burst: float) -> None:
        if rate_hz <= 0 or burst < 1:
            raise ConfigError(f"need rate_hz > 0 and burst >= 1, got {rate_hz}, {burst}")
        self.rate_hz = rate_hz
        self.burst = float(burst)
        self._tokens = float(burst)
        self._t_ns: int | None = None

    def take(self, now_ns: int) -> bool:
        """Spend one token if there is one; time never runs backwards here."""
        if self._t_ns is not None and now_ns > self._t_ns:
            refill = (now_ns - self._t_ns) * 1e-9 * self.rate_hz
            self._tokens = min(self.burst, self._tokens + refill)
        if self._t_ns is None or now_ns > self._t_ns:
            self._t_ns = now_ns
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class FloodGuard:
    """A token bucket plus the warn-then-disconnect decision for one client.

    Args:
        rate_hz: Long-run messages per second allowed.
        burst: Messages allowed at once above that.
        grace_s: Time [s] after the warning within which the flood must stop.
    """

    def __init__(self, rate_hz: float, burst: float, grace_s: float) -> None:
        self._bucket = TokenBucket(rate_hz, burst)
        self._grace_ns = int(grace_s * 1e9)
        self._flood_since_ns: int | None = None
        self._last_drop_ns = 0
        self.dropped = 0
        """Messages dropped so far."""

    def admit(self, now_ns: int) -> Verdict:
        if self._bucket.take(now_ns):
            if self._flood_since_ns is not None and now_ns - self._last_drop_ns > self._grace_ns:
                self._flood_since_ns = None
            return Verdict.ACCEPT
        self.dropped += 1
        self._last_drop_ns = now_ns
        if self._flood_since_ns is None:
            self._flood_since_ns = now_ns
            return Verdict.WARN
        if now_ns - self._flood_since_ns >= self._grace_ns:
            return Verdict.DISCONNECT
        return Verdict.DROP
