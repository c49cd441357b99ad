"""Per-source rate limits for the routes anyone may call (join and pairing hellos).

A token bucket per key (the caller's address): ``burst`` calls at once, then
``rate`` per second. The table is bounded (``max_keys``; the stalest key goes
first), so a flood of source addresses cannot grow memory. Pure apart from the
clock the caller passes in; used on the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_keys: int = 4096) -> None:
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        """Take one token for ``key``; False when it has none left."""
        b = self._buckets.pop(key, None)
        if b is None:
            b = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + max(0.0, now - b.at) * self.rate)
        b.at = now
        self._buckets[key] = b  # most recent last
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` has a token again (0 if it has one)."""
        b = self._buckets.get(key)
        if b is None or b.tokens >= 1.0:
            return 0.0
        return (1.0 - b.tokens) / self.rate
