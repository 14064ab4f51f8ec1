"""Per-key token bucket (in process). Over the limit -> 429 with `Retry-After`."""

from __future__ import annotations

import math
import threading
import time
import uuid

from cloud_sync.cloud.errors import ApiError


class RateLimiter:
    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 2))
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: uuid.UUID) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise ApiError(
                    429, "rate_limited", "too many requests", headers={"Retry-After": str(wait)}
                )
            self._buckets[key] = (tokens - 1.0, now)
