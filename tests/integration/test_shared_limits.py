"""Two nodes on one database and one Redis share the web manager's and the API's limits:
sign-in failures, used TOTP codes and API requests counted on one count on the other.
With Redis down each node still limits, from memory."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.signin.limits import EMAIL_LIMIT, IP_LIMIT, SignInService, TooManyAttempts
from mailward.core.signin.totp import SecondFactorService
from mailward.limitstore import MemoryRateLimitStore, RateLimitStore
from mailward.redis_limitstore import FallbackRateLimitStore, RedisRateLimitStore
from mailward.web.api.limits import ApiRateLimiter, Limit
from tests.integration.api_world import ApiWorld, api_app
from tests.support import (
    ADMIN_PASSWORD,
    REDIS_URL,
    World,
    free_port,
    make_settings,
    open_services,
)
from tests.web_support import csrf_of, current_code, enrol_totp, next_code, web_client


def node(world: World, store: RateLimitStore) -> Services:
    """Another process on the same database, counting in ``store``."""
    services = world.services
    return Services(services.settings, replace(services.deps, limit_store=store), services.events)


def dead_redis() -> FallbackRateLimitStore:
    dead = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    return FallbackRateLimitStore(dead, MemoryRateLimitStore())


async def keys_of(store: RedisRateLimitStore) -> list[str]:
    client = Redis.from_url(REDIS_URL)
    try:
        return [k.decode() async for k in client.scan_iter(match=store.prefix + "*")]
    finally:
        await client.aclose()


async def post_login(client: httpx.AsyncClient, email: str, password: str) -> int:
    token = csrf_of((await client.get("/login")).text)
    data = {"csrf": token, "email": email, "password": password}
    return (await client.post("/login", data=data)).status_code


async def test_the_ip_limit_reached_on_one_web_node_refuses_the_other_and_hides_what_was_typed(
    world: World, redis_store: RedisRateLimitStore
) -> None:
    a, b = web_client(node(world, redis_store)), web_client(node(world, redis_store))
    async with a, b:
        # Different emails, so that only the IP limit (20) is reached, not an email's (5).
        for i in range(IP_LIMIT.failures):
            status = await post_login((a, b)[i % 2], f"guess{i % 5}@corp.test", "nope")
            assert status == 401
        assert await post_login(b, "admin@corp.test", ADMIN_PASSWORD) == 429
    keys = await keys_of(redis_store)
    assert keys and all("nope" not in k and "guess" not in k for k in keys)


async def test_an_email_failing_on_one_node_is_limited_on_the_other_from_new_networks(
    world: World, redis_store: RedisRateLimitStore
) -> None:
    a = SignInService(node(world, redis_store).deps, world.services.accounts)
    b = SignInService(node(world, redis_store).deps, world.services.accounts)
    for _ in range(EMAIL_LIMIT.failures - 1):
        assert await a.check_password("admin@corp.test", "nope", "192.0.2.7") is None
    assert await b.check_password("Admin@corp.test", ADMIN_PASSWORD, "192.0.2.8") is not None
    # The owner's success does not wipe the count of failures made elsewhere.
    assert await a.check_password("admin@corp.test", "nope", "192.0.2.7") is None
    with pytest.raises(TooManyAttempts) as refused:
        await b.check_password("admin@corp.test", ADMIN_PASSWORD, "192.0.2.9")
    assert 1 <= refused.value.retry_after <= 15 * 60


async def test_second_factor_failures_on_one_node_count_on_the_other(
    world: World, redis_store: RedisRateLimitStore
) -> None:
    a = SignInService(node(world, redis_store).deps, world.services.accounts)
    b = SignInService(node(world, redis_store).deps, world.services.accounts)
    assert world.admin.account_id is not None
    for _ in range(5):
        await b.check_second_factor_allowed(world.admin.account_id)
        await a.second_factor_failed(world.admin.account_id)
    with pytest.raises(TooManyAttempts):
        await b.check_second_factor_allowed(world.admin.account_id)


async def test_a_totp_code_used_through_one_node_is_refused_through_the_other(
    world: World, clock: FrozenClock, redis_store: RedisRateLimitStore
) -> None:
    assert world.admin.account_id is not None
    account_id = world.admin.account_id
    secret = await enrol_totp(node(world, redis_store), account_id)
    a = SecondFactorService(node(world, redis_store).deps)
    b = SecondFactorService(node(world, redis_store).deps)
    code = next_code(secret, clock)
    assert await a.verify(account_id, code)
    assert not await b.verify(account_id, code)
    newer = next_code(secret, clock)
    assert await b.verify(account_id, newer)
    assert all(code not in k and newer not in k for k in await keys_of(redis_store))


async def test_an_older_code_is_refused_once_a_newer_one_was_accepted(
    world: World, clock: FrozenClock
) -> None:
    assert world.admin.account_id is not None
    account_id = world.admin.account_id
    secret = await enrol_totp(world.services, account_id)
    factor = SecondFactorService(world.services.deps)
    older = next_code(secret, clock)
    newer = next_code(secret, clock)  # both within the accepted drift of one step
    assert await factor.verify(account_id, newer)
    assert not await factor.verify(account_id, older)


async def test_the_api_token_limit_is_shared_between_nodes(
    api: ApiWorld, redis_store: RedisRateLimitStore
) -> None:
    limits = (Limit("api.ip", 100, 60), Limit("api.ip.bad_token", 2, 60), Limit("api.token", 3, 60))
    apps = [api_app(api.world, ApiRateLimiter(redis_store, limits)) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")
        for app in apps
    ]
    good, bad = api.headers("admin"), api.headers("unknown")
    async with clients[0], clients[1]:
        statuses = [
            (await clients[i % 2].get("/api/v1/organizations", headers=good)).status_code
            for i in range(4)
        ]
        bad_statuses = [
            (await clients[i % 2].get("/api/v1/organizations", headers=bad)).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 200, 429]
    assert bad_statuses == [401, 401, 429]
    assert all(str(api.tokens["admin"]) not in k for k in await keys_of(redis_store))


async def test_with_redis_down_the_web_limits_and_codes_work_from_memory(
    world: World, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = dead_redis()
    services = node(world, store)
    assert world.admin.account_id is not None
    try:
        secret = await enrol_totp(services, world.admin.account_id)
        factor = SecondFactorService(services.deps)
        code = next_code(secret, clock)
        assert await factor.verify(world.admin.account_id, code)
        assert not await factor.verify(world.admin.account_id, current_code(secret, clock))
        async with web_client(services) as client:
            for _ in range(EMAIL_LIMIT.failures):
                assert await post_login(client, "admin@corp.test", "nope") == 401
            assert await post_login(client, "admin@corp.test", ADMIN_PASSWORD) == 429
    finally:
        await store.close()
    assert store.failures >= 1
    assert caplog.text.count("Redis unavailable") == 1


async def test_with_redis_down_the_api_limits_work_from_memory(api: ApiWorld) -> None:
    store = dead_redis()
    limits = (Limit("api.ip", 100, 60), Limit("api.ip.bad_token", 2, 60), Limit("api.token", 2, 60))
    transport = httpx.ASGITransport(app=api_app(api.world, ApiRateLimiter(store, limits)))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            statuses = [
                (
                    await client.get("/api/v1/organizations", headers=api.headers("admin"))
                ).status_code
                for _ in range(3)
            ]
    finally:
        await store.close()
    assert statuses == [200, 200, 429]


async def test_the_services_count_in_redis_when_it_is_configured(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/mailward.db"
    plain = await open_services(make_settings(tmp_path, url))
    assert isinstance(plain.deps.limit_store, MemoryRateLimitStore)
    await plain.close()
    shared = await open_services(make_settings(tmp_path, url, redis_url=REDIS_URL))
    assert isinstance(shared.deps.limit_store, FallbackRateLimitStore)
    await shared.close()


@pytest.fixture(autouse=True)
def _quiet_redis_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mailward.redis_limitstore")
