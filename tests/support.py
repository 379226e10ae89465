"""Shared test helpers: databases on SQLite and PostgreSQL, a populated world."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from mailward.bootstrap import Services, build_services
from mailward.clock import Clock
from mailward.core.access.actors import Actor
from mailward.core.accounts.service import AccountService
from mailward.core.addresses.service import AddressService
from mailward.core.deps import CoreDeps
from mailward.core.mailservices.service import MailServiceService
from mailward.core.organizations.service import OrganizationService
from mailward.redis_limitstore import RedisRateLimitStore
from mailward.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_DSN = os.environ.get(
    "MAILWARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ADMIN_PASSWORD = "correct horse battery staple 42"
REDIS_URL = "redis://127.0.0.1:6379/15"


def skip_or_fail(reason: str) -> None:
    """Skip a test whose server is missing; under CI=true, fail instead."""
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = ""
) -> None:
    """Poll ``condition`` (a function, or a coroutine function) every 20 ms until it is
    true; fail with ``what`` once ``within`` seconds have passed. For waiting on
    something that happens in the background, instead of a fixed sleep."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what or condition}")
        await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def redis_store_for_test() -> AsyncIterator[RedisRateLimitStore]:
    """A Redis store under a fresh prefix (skipped when Redis is missing); its keys are
    deleted afterwards."""
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


async def create_postgres_database() -> str:
    """A fresh, empty PostgreSQL database; returns its SQLAlchemy URL."""
    import asyncpg  # a dependency of Mailward: missing, the install is broken (no skip)

    name = f"mailward_test_{secrets.token_hex(6)}"
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        skip_or_fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}: {exc}")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def database_url_for(kind: str, tmp_path: object) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/mailward.db"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


def make_settings(tmp_path: object, database_url: str, **overrides: object) -> Settings:
    return Settings(
        data_dir=f"{tmp_path}/data",  # type: ignore[arg-type]
        database_url=database_url,
        **overrides,  # type: ignore[arg-type]
    )


@dataclass
class World:
    """One organization with a legal representative, an administrator, a user member,
    a Mail Service example.test, and the address info@example.test."""

    services: Services
    org_id: int
    legal: Actor
    admin: Actor
    user: Actor
    address: str = "info@example.test"
    domain: str = "example.test"


async def make_world(services: Services) -> World:
    op = Actor.operator()
    legal = await services.accounts.create(op, "legal@corp.test", ADMIN_PASSWORD, "Lena Legal")
    admin = await services.accounts.create(op, "admin@corp.test", ADMIN_PASSWORD, "Adam Admin")
    user = await services.accounts.create(op, "user@corp.test", ADMIN_PASSWORD, "Ursula User")
    org = await services.organizations.create(op, "Corp", legal_representative=legal.email)
    await services.organizations.add_member(op, org.id, admin.email, "administrator")
    await services.organizations.add_member(op, org.id, user.email, "user")
    await services.mail_services.create(op, org.id, "example.test")
    await services.addresses.create_by_email(op, "info@example.test")
    return World(
        services=services,
        org_id=org.id,
        legal=Actor(legal.id, legal.email, "192.0.2.1"),
        admin=Actor(admin.id, admin.email, "192.0.2.2"),
        user=Actor(user.id, user.email, "192.0.2.3"),
    )


async def open_services(settings: Settings, clock: Clock | None = None) -> Services:
    return await build_services(settings, clock=clock)


async def running_services(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[Services]:
    """Services (one node) for a fixture, closed afterwards."""
    services = await open_services(settings, clock)
    try:
        yield services
    finally:
        await services.close()


class HasUseCases(Protocol):
    """The wired Services, or the unit tier's Core."""

    accounts: AccountService
    organizations: OrganizationService
    mail_services: MailServiceService
    addresses: AddressService


async def other_org_admin(services: HasUseCases) -> Actor:
    """The legal representative of another organization, Other, which has the verified
    Mail Service other.test and the address sales@other.test."""
    op = Actor.operator()
    other = await services.accounts.create(op, "boss@other.test", ADMIN_PASSWORD, "Otto Other")
    org = await services.organizations.create(op, "Other", legal_representative=other.email)
    await services.mail_services.create(op, org.id, "other.test")
    await services.addresses.create_by_email(op, "sales@other.test")
    return Actor(other.id, other.email)


class HasCoreDeps(Protocol):
    @property
    def deps(self) -> CoreDeps: ...


async def accept_offers(services: HasCoreDeps, person: Actor) -> None:
    """The person, signed in, accepts every role and address offered to them (consent:
    nothing an administrator offers takes effect before that). ``services`` is the wired
    Services or the unit tier's Core."""
    from mailward.core.access.grants import GrantService

    grants = GrantService(services.deps)
    for offer in await grants.pending_for(person):
        await grants.accept(person, offer.id)
