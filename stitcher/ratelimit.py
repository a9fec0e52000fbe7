"""Plan rate limits: at most N requests per window for one application on one product.

A fixed window that starts at the first request: the first hit creates the counter with the window as its
lifetime, later hits increment it, and a hit over the limit is refused with the time left until the counter
expires (the ``Retry-After``). With a Redis URL the counter lives in Redis (one atomic Lua script per hit), so
every gateway replica shares it; without one it is kept in this process's memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from stitcher.errors import StitcherError

__all__ = ["MemoryRateLimiter", "RateDecision", "RateLimiter", "RateLimiterUnavailable", "RedisRateLimiter"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one hit: ``retry_after`` (whole seconds, >= 1) is set when ``allowed`` is False."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int | None = None


class RateLimiterUnavailable(StitcherError):
    """The shared counter could not be reached; the caller decides whether to fail open or closed."""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one request for ``key`` and say whether it is within ``limit`` per ``window_seconds``."""
        ...

    async def close(self) -> None: ...


def _decision(count: int, limit: int, ttl_seconds: float) -> RateDecision:
    if count <= limit:
        return RateDecision(True, limit, limit - count)
    return RateDecision(False, limit, 0, max(1, math.ceil(ttl_seconds)))


class MemoryRateLimiter:
    """Counters in this process (one replica); ``clock`` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        now = self._clock()
        end, count = self._windows.get(key, (0.0, 0))
        if now >= end:
            if len(self._windows) >= self._max_keys:
                self._evict(now)
            end, count = now + window_seconds, 0
        count += 1
        self._windows[key] = (end, count)
        return _decision(count, limit, end - now)

    def _evict(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}

    async def close(self) -> None:
        self._windows.clear()


# INCR, and on the first hit start the window; returns the count and the window's remaining milliseconds.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Counters in Redis, shared by every replica that uses the same URL and ``key_prefix``."""

    def __init__(self, url: str, *, key_prefix: str) -> None:  # the prefix: GatewayOptions.rate_limit_key_prefix
        self._client: redis_asyncio.Redis = redis_asyncio.Redis.from_url(url, socket_timeout=1.0)
        self._script = self._client.register_script(_HIT_SCRIPT)
        self._prefix = key_prefix

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        window_ms = max(1, int(window_seconds * 1000))
        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[window_ms])
        except RedisError as exc:
            raise RateLimiterUnavailable(f"the rate-limit counter in Redis failed: {exc}") from exc
        return _decision(int(count), limit, int(ttl_ms) / 1000)

    async def close(self) -> None:
        await self._client.aclose()
