"""The Redis rate-limit store, and the memory fallback when Redis is broken."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from mailward.auth.interfaces import AuthFailure, FailureReason
from mailward.auth.limits import RateLimiter
from mailward.auth.redis_store import FallbackRateLimitStore, RedisRateLimitStore
from mailward.auth.runtime import build_authenticator, close_authenticator, make_rate_limit_store
from mailward.auth.stores import MemoryRateLimitStore
from tests.integration.test_auth_support import add_generated, device_id
from tests.support import World, free_port, make_settings, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisRateLimitStore]:
    prefix = f"mailward-test:{secrets.token_hex(6)}:"
    store = RedisRateLimitStore.from_url(REDIS_URL, prefix)
    try:
        await store.client.ping()
    except (RedisError, OSError) as exc:
        await store.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    try:
        yield store
    finally:
        client = Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await store.close()


async def test_redis_counts_within_a_window(redis_store: RedisRateLimitStore) -> None:
    await redis_store.increment(["a", "b"], 60)
    await redis_store.increment(["a"], 60)
    assert await redis_store.counts(["a", "b", "c"]) == [2, 1, 0]
    assert 0 < await redis_store.retry_after("a") <= 60
    assert await redis_store.retry_after("c") == 0


async def test_redis_flags_are_set_once(redis_store: RedisRateLimitStore) -> None:
    assert await redis_store.add_flag("f", 60) is True
    assert await redis_store.add_flag("f", 60) is False
    assert await redis_store.has_flag("f")
    await redis_store.set_flag("g", 60)
    assert await redis_store.counts(["g"]) == [1]


async def test_the_limiter_on_redis_limits_and_counts_a_repeat_once(
    redis_store: RedisRateLimitStore,
) -> None:
    limiter = RateLimiter(redis_store)
    for i in range(limiter.limits.address_ip.failures):
        assert await limiter.record_failure("a@example.test", "192.0.2.1", f"fp{i}")
    assert not await limiter.record_failure("a@example.test", "192.0.2.1", "fp0")
    verdict = await limiter.check("a@example.test", "192.0.2.1")
    assert verdict.limited is not None and verdict.limited.limit == "address_ip.auth"
    assert (await limiter.check("a@example.test", "192.0.2.2")).limited is None


async def test_logins_share_counters_through_redis(
    world: World, redis_store: RedisRateLimitStore
) -> None:
    nodes = [build_authenticator(world.services, store=redis_store) for _ in range(2)]
    _, password = await add_generated(world, "Phone")
    limit = nodes[0].limiter.limits.address_ip.failures
    for i in range(limit):
        await nodes[i % 2].authenticate(world.address, f"guess-{i}", "imap", "203.0.113.9")
    result = await nodes[1].authenticate(world.address, password, "imap", "203.0.113.9")
    assert isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED
    assert device_id(await nodes[0].authenticate(world.address, password, "imap", "192.0.2.1"))
    for node in nodes:
        await node.last_used.flush()


async def test_a_broken_redis_is_logged_and_counting_goes_on_in_memory(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    store = FallbackRateLimitStore(dead, MemoryRateLimitStore())
    auth = build_authenticator(world.services, store=store)
    try:
        _, password = await add_generated(world, "Phone")
        assert device_id(await auth.authenticate(world.address, password, "imap", "192.0.2.1"))
        for i in range(auth.limiter.limits.address_ip.failures):
            await auth.authenticate(world.address, f"guess-{i}", "imap", "203.0.113.9")
        result = await auth.authenticate(world.address, password, "imap", "203.0.113.9")
        assert isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED
        assert store.failures >= 1
        assert "Redis unavailable" in caplog.text
        assert caplog.text.count("Redis unavailable") == 1
    finally:
        await close_authenticator(auth)


def test_the_store_is_redis_when_configured_and_memory_otherwise(tmp_path: object) -> None:
    plain = make_settings(tmp_path, "sqlite+aiosqlite://")
    assert isinstance(make_rate_limit_store(plain), MemoryRateLimitStore)
    with_redis = make_settings(tmp_path, "sqlite+aiosqlite://", redis_url=REDIS_URL)
    store = make_rate_limit_store(with_redis)
    assert isinstance(store, FallbackRateLimitStore)


@pytest.fixture(autouse=True)
def _quiet_redis_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mailward.auth.redis_store")
