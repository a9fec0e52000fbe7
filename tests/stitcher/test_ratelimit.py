"""Plan rate limits in memory and in the real Redis (``LOOM_TEST_REDIS_URL``, default db 15 on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from stitcher.ratelimit import MemoryRateLimiter, RateLimiterUnavailable, RedisRateLimiter

REDIS_URL = os.environ.get("LOOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def test_memory_window_refuses_over_the_limit_then_resets() -> None:
    now = [100.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    decisions = [await limiter.hit("app:shop", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after == 60
    now[0] += 45.5
    refused = await limiter.hit("app:shop", 3, 60)
    assert not refused.allowed and refused.retry_after == 15
    assert (await limiter.hit("other:shop", 3, 60)).allowed  # keys are independent
    now[0] += 15
    assert (await limiter.hit("app:shop", 3, 60)).allowed  # a new window


async def test_memory_evicts_expired_windows_when_full() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0], max_keys=2)
    await limiter.hit("a", 1, 1)
    await limiter.hit("b", 1, 1)
    now[0] = 5
    assert (await limiter.hit("c", 1, 1)).allowed
    assert (await limiter.hit("a", 1, 1)).allowed


async def test_redis_counter_is_shared_by_two_limiters() -> None:
    prefix = f"loom-test:{uuid.uuid4().hex}:"
    first, second = RedisRateLimiter(REDIS_URL, key_prefix=prefix), RedisRateLimiter(REDIS_URL, key_prefix=prefix)
    try:
        results = await asyncio.gather(*(lim.hit("app:shop", 4, 30) for lim in (first, second) * 3))
        assert sorted(r.allowed for r in results) == [False, False, True, True, True, True]
        refused = next(r for r in results if not r.allowed)
        assert refused.retry_after is not None and 1 <= refused.retry_after <= 30
        assert (await first.hit("app:other", 4, 30)).allowed
    finally:
        await first.close()
        await second.close()


async def test_two_installations_on_one_redis_count_apart() -> None:
    """Each installation's prefix (LOOM_GATEWAY_RATE_LIMIT_KEY_PREFIX) is its own namespace: the same consumer key
    in two installations is two counters."""
    run = uuid.uuid4().hex
    eu, us = (RedisRateLimiter(REDIS_URL, key_prefix=f"loom-test:{run}:{name}:") for name in ("eu", "us"))
    try:
        assert [(await eu.hit("dana:trial:people", 1, 30)).allowed for _ in range(2)] == [True, False]
        assert (await us.hit("dana:trial:people", 1, 30)).allowed
    finally:
        await eu.close()
        await us.close()


async def test_redis_window_expires() -> None:
    limiter = RedisRateLimiter(REDIS_URL, key_prefix=f"loom-test:{uuid.uuid4().hex}:")
    try:
        assert (await limiter.hit("k", 1, 0.05)).allowed
        assert not (await limiter.hit("k", 1, 0.05)).allowed
        await asyncio.sleep(0.1)
        assert (await limiter.hit("k", 1, 0.05)).allowed
    finally:
        await limiter.close()


async def test_unreachable_redis_is_reported() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", key_prefix=f"loom-test:{uuid.uuid4().hex}:")
    try:
        with pytest.raises(RateLimiterUnavailable, match="Redis failed"):
            await limiter.hit("k", 1, 1)
    finally:
        await limiter.close()
