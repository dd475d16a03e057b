"""The retry schedule: first retry within seconds, capped exponential growth, jitter, ~24 h."""

from __future__ import annotations

import random

import pytest

from taskforce.callbacks import backoff


def test_first_retry_comes_within_seconds():
    for seed in range(100):
        assert 1_000 <= backoff.delay_ms(1, rng=random.Random(seed)) <= 5_000


def test_delays_double_until_the_cap():
    no_jitter = [backoff.delay_ms(n, jitter=0.0) for n in range(1, 20)]
    assert no_jitter[:4] == [5_000, 10_000, 20_000, 40_000]
    assert max(no_jitter) == backoff.CAP_MS
    assert no_jitter == sorted(no_jitter)


@pytest.mark.parametrize("seed", range(20))
def test_twenty_attempts_span_about_a_day(seed):
    delays = backoff.schedule_ms(20, rng=random.Random(seed))
    assert len(delays) == 19
    hours = sum(delays) / 3_600_000
    assert 20 <= hours <= 28
    assert all(d <= backoff.CAP_MS for d in delays)


def test_jitter_spreads_retries_of_deliveries_that_failed_together():
    rng = random.Random(1)
    seen = {backoff.delay_ms(6, rng=rng) for _ in range(50)}
    assert len(seen) > 40
    assert min(seen) >= int(160_000 * (1 - backoff.JITTER)) and max(seen) <= 160_000


def test_huge_attempt_numbers_stay_at_the_cap():
    assert backoff.delay_ms(10_000, jitter=0.0) == backoff.CAP_MS
    assert backoff.delay_ms(0, jitter=0.0) == backoff.FIRST_DELAY_MS
