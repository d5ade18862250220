"""Request rate limits of REST APIs: usage plans' throttle (per API key) and quota, and stage
method throttling.

Throttling is a token bucket per key of a plan (or per stage): `burstLimit` tokens, refilled
at `rateLimit` a second; a request finding it empty gets AWS's 429 "Too Many Requests". A
quota counts a key's requests in the plan's current period (UTC day, week from Monday, or
month); past `limit`, 429 "Limit Exceeded". Counts live in memory: a restart forgets them,
as AWS's throttles and quotas are approximate anyway (its docs call them best effort).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

__all__ = ["Limited", "UsageLimits"]

#: Bucket and quota entries kept before the oldest are forgotten (bounded memory).
_MAX_ENTRIES = 100_000


class Limited(Enum):
    THROTTLED = "Too Many Requests"
    QUOTA = "Limit Exceeded"


def _period_start(period: str, now: float) -> str:
    day = datetime.fromtimestamp(now, UTC).date()
    if period == "WEEK":
        return f"W{day.toordinal() - day.weekday()}"
    if period == "MONTH":
        return f"M{day.year}-{day.month}"
    return f"D{day.toordinal()}"


class UsageLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self._quotas: dict[tuple[str, str, str], int] = {}

    def take(self, key: tuple[str, ...], rate: float, burst: float) -> bool:
        """Take a token from bucket `key` (made full); False when it is empty."""
        now = self._clock()
        capacity = max(burst, 1.0) if rate > 0 else max(burst, 0.0)
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= _MAX_ENTRIES and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens - 1.0, now)
        return True

    def check_plan(
        self, plan: dict[str, Any], key_id: str, wall_clock: float | None = None
    ) -> Limited | None:
        """Count a request of `key_id` under usage `plan`; what limit it broke, if any."""
        throttle = plan.get("throttle") or {}
        if throttle and not self.take(
            ("plan", plan["id"], key_id),
            float(throttle.get("rateLimit", 0.0)),
            float(throttle.get("burstLimit", 0)),
        ):
            return Limited.THROTTLED
        quota = plan.get("quota") or {}
        if quota and "limit" in quota:
            now = time.time() if wall_clock is None else wall_clock
            entry = (plan["id"], key_id, _period_start(quota.get("period", "DAY"), now))
            used = self._quotas.get(entry, 0)
            if used >= int(quota["limit"]):
                return Limited.QUOTA
            if len(self._quotas) >= _MAX_ENTRIES and entry not in self._quotas:
                self._quotas.clear()
            self._quotas[entry] = used + 1
        return None
