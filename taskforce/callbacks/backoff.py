"""When to try a failed callback again.

Capped exponential backoff with jitter: the first retry comes within seconds (a receiver that
blipped is back quickly), later ones spread out so a receiver that is down for a day still gets
its callbacks when it returns. With the defaults, 20 attempts span about 24 hours:
5 s, 10 s, 20 s … doubling to a 3 h cap, each delay scaled by a random factor in [0.8, 1.0] so
retries of many deliveries that failed together do not arrive together.
"""

from __future__ import annotations

import random

FIRST_DELAY_MS = 5_000
CAP_MS = 3 * 3600 * 1000
JITTER = 0.2


def delay_ms(failed_attempts: int, *, rng: random.Random | None = None,
             first_ms: int = FIRST_DELAY_MS, cap_ms: int = CAP_MS, jitter: float = JITTER) -> int:
    """The wait after the ``failed_attempts``-th failure (1 = after the first attempt failed)."""
    n = max(1, failed_attempts)
    # Guard the exponent: 2**n for large n is a big int that is pointless to compute.
    base = cap_ms if n > 40 else min(cap_ms, first_ms * (2 ** (n - 1)))
    factor = 1.0 - jitter * (rng or random).random()
    return max(1, int(base * factor))


def schedule_ms(max_attempts: int, *, rng: random.Random | None = None) -> list[int]:
    """The delays between ``max_attempts`` attempts (one fewer than attempts)."""
    return [delay_ms(i, rng=rng) for i in range(1, max_attempts)]
