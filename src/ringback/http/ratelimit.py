"""Per-process token buckets (SPEC §1): with N processes the effective limit is up to N times."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBuckets:
    """``rate`` requests per second per key, with bursts up to ``burst``. ``rate <= 0`` disables."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str) -> float | None:
        """None when allowed; else the seconds to wait before a token is free."""
        if self.rate <= 0:
            return None
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


def retry_after_header(wait_seconds: float) -> str:
    return str(max(1, math.ceil(wait_seconds)))
