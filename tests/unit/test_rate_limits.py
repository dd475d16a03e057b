"""The token bucket behind the API's and the web app's rate limits."""

from __future__ import annotations

import pytest

from taskforce.rate_limits import RateLimiter, retry_text


def test_the_bucket_refills_counts_failures_and_forgets_full_buckets():
    limiter = RateLimiter(rate=1.0, burst=2)
    assert limiter.peek_seconds("k", now=0.0) == 0.0
    limiter.charge("k", now=0.0)
    limiter.charge("k", now=0.0)
    assert limiter.peek_seconds("k", now=0.0) == pytest.approx(1.0)
    assert limiter.peek_seconds("k", now=0.5) == pytest.approx(0.5)
    assert limiter.wait_seconds("k", now=1.0) == 0.0  # one token back, and taken
    assert limiter.wait_seconds("k", now=1.0) > 0
    for n in range(10_000):
        limiter.wait_seconds(n, now=2.0)
    limiter.wait_seconds("new", now=100.0)  # all of those have refilled: pruned
    assert len(limiter._buckets) < 10


def test_retry_text_reads_naturally():
    assert retry_text(0.2) == "1 second"
    assert retry_text(59.1) == "60 seconds"
    assert retry_text(600) == "10 minutes"
