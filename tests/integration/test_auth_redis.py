"""The Redis rate-limit store, and the memory fallback when Redis is broken."""

from __future__ import annotations

import logging

import pytest

from mailward.auth.interfaces import AuthFailure, FailureReason
from mailward.auth.limits import RateLimiter
from mailward.auth.runtime import close_authenticator
from mailward.limitstore import MemoryRateLimitStore
from mailward.redis_limitstore import (
    FallbackRateLimitStore,
    RedisRateLimitStore,
    make_rate_limit_store,
)
from tests.integration.auth_devices import (
    CHOSEN_PASSWORDS,
    add_chosen,
    add_generated,
    device_id,
)
from tests.support import REDIS_URL, World, free_port, make_settings


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


async def test_redis_forgets_cleared_counters_and_flags(redis_store: RedisRateLimitStore) -> None:
    await redis_store.increment(["k", "kept"], 60)
    assert await redis_store.add_flag("f", 60)
    await redis_store.clear(["k", "f", "absent"])
    await redis_store.clear([])
    assert await redis_store.counts(["k", "kept"]) == [0, 1]
    assert await redis_store.add_flag("f", 60)


async def test_the_fallback_clears_redis_and_what_it_counted_in_memory(
    redis_store: RedisRateLimitStore,
) -> None:
    memory = MemoryRateLimitStore()
    await memory.increment(["k"], 60)
    store = FallbackRateLimitStore(redis_store, memory)
    await store.increment(["k"], 60)
    await store.clear(["k"])
    assert await redis_store.counts(["k"]) == [0]
    assert await memory.counts(["k"]) == [0]


async def test_a_broken_redis_clears_in_memory() -> None:
    dead = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    store = FallbackRateLimitStore(dead, MemoryRateLimitStore())
    try:
        await store.increment(["k"], 60)
        await store.clear(["k"])
        assert await store.counts(["k"]) == [0]
        assert store.failures >= 1
    finally:
        await store.close()


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
    nodes = [world.services.build_authenticator(store=redis_store) for _ in range(2)]
    await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    limit = nodes[0].limiter.limits.address_ip.failures
    for i in range(limit):
        await nodes[i % 2].authenticate(world.address, f"guess-{i}", "imap", "203.0.113.9")
    result = await nodes[1].authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "203.0.113.9")
    assert isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED
    ok = await nodes[0].authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "192.0.2.1")
    assert device_id(ok)
    for node in nodes:
        await node.last_used.flush()


async def test_a_broken_redis_is_logged_and_counting_goes_on_in_memory(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    store = FallbackRateLimitStore(dead, MemoryRateLimitStore())
    auth = world.services.build_authenticator(store=store)
    try:
        _, password = await add_generated(world, "Phone")
        await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
        assert device_id(await auth.authenticate(world.address, password, "imap", "192.0.2.1"))
        for i in range(auth.limiter.limits.address_ip.failures):
            await auth.authenticate(world.address, f"guess-{i}", "imap", "203.0.113.9")
        chosen = CHOSEN_PASSWORDS[0]
        result = await auth.authenticate(world.address, chosen, "imap", "203.0.113.9")
        assert isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED
        assert device_id(await auth.authenticate(world.address, password, "imap", "203.0.113.9"))
        assert store.failures >= 1
        assert "Redis unavailable" in caplog.text
        assert caplog.text.count("Redis unavailable") == 1
    finally:
        await close_authenticator(auth)
        await store.close()


def test_the_store_is_redis_when_configured_and_memory_otherwise(tmp_path: object) -> None:
    plain = make_settings(tmp_path, "sqlite+aiosqlite://")
    assert isinstance(make_rate_limit_store(plain), MemoryRateLimitStore)
    with_redis = make_settings(tmp_path, "sqlite+aiosqlite://", redis_url=REDIS_URL)
    store = make_rate_limit_store(with_redis)
    assert isinstance(store, FallbackRateLimitStore)


@pytest.fixture(autouse=True)
def _quiet_redis_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mailward.redis_limitstore")
