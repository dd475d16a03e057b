"""Token buckets, in memory and per process: the API's optional per-key limit, and the web
app's guards on what an anonymous or a signed-in user could otherwise repeat without end
(guessing passwords, creating accounts, making the server POST to a URL)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskforce.config import Settings

#: Buckets kept before the full ones (indistinguishable from absent) are dropped.
_PRUNE_AT = 10_000


class RateLimiter:
    """``rate`` requests a second on average, in bursts of up to ``burst``, per key.

    Per process: with ``serve --workers N`` a key may make N times the rate. One float pair per
    key recently seen, so a check is a dict lookup; thread-safe, since sync views run on a pool.
    """

    def __init__(self, rate: float, burst: int = 0) -> None:
        self.rate = rate
        self.burst = float(burst if burst > 0 else max(1, math.ceil(rate)))
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, key: Hashable, now: float | None = None) -> float:
        """0 when the request may go ahead (and takes a token); else seconds until it may."""
        return self._take(key, now, take=True)

    def peek_seconds(self, key: Hashable, now: float | None = None) -> float:
        """Like ``wait_seconds`` but takes nothing: for limits that count only failures."""
        return self._take(key, now, take=False)

    def charge(self, key: Hashable, now: float | None = None) -> None:
        """Take a token whether or not one is left (a failure that has already happened)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens = self._refilled(key, now)
            self._buckets[key] = (max(tokens - 1.0, -1.0), now)

    def _refilled(self, key: Hashable, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - stamp) * self.rate)

    def _take(self, key: Hashable, now: float | None, *, take: bool) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            tokens = self._refilled(key, now)
            if tokens >= 1.0:
                if take:
                    self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._refilled(k, now) >= self.burst]
        for key in full:
            del self._buckets[key]


@dataclass
class WebLimits:
    """The web app's limits (rates per second; see Settings for the figures)."""

    #: Failed sign-ins per address and email: a password guesser is slowed to a crawl.
    login_failures: RateLimiter
    #: Self sign-ups per address.
    signups: RateLimiter
    #: "Send a test callback" per customer: the server POSTs to a URL the user typed.
    test_callbacks: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        return cls(
            login_failures=RateLimiter(settings.login_failures_per_minute / 60,
                                       burst=max(1, int(settings.login_failures_per_minute))),
            signups=RateLimiter(settings.signups_per_hour / 3600,
                                burst=max(1, int(settings.signups_per_hour))),
            test_callbacks=RateLimiter(settings.test_callbacks_per_minute / 60, burst=5),
        )


def retry_text(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"
