"""Fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.redis_limitstore import RedisRateLimitStore
from mailward.settings import Settings
from tests.security.dns_server import DnsServer
from tests.smarthost import Collector, running_smarthost
from tests.support import (
    World,
    database_url_for,
    free_port,
    make_settings,
    make_world,
    redis_store_for_test,
    running_services,
)

if TYPE_CHECKING:
    from mailward.auth.authenticator import Authenticator


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async for url in database_url_for(request.param, tmp_path):
        yield url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    async for services in running_services(settings, clock):
        yield services


@pytest.fixture
async def world(services: Services) -> World:
    return await make_world(services)


@pytest.fixture
async def auth(services: Services) -> AsyncIterator[Authenticator]:
    """The device authenticator of the services, closed afterwards."""
    from mailward.auth.runtime import close_authenticator

    authenticator = services.build_authenticator()
    try:
        yield authenticator
    finally:
        await close_authenticator(authenticator)


@pytest.fixture
def smarthost_port() -> int:
    """Where the settings of a file that overrides ``settings`` with
    ``tests.smarthost.with_smarthost`` send mail for other domains."""
    return free_port()


@pytest.fixture
async def outside(smarthost_port: int) -> AsyncIterator[Collector]:
    """The outside world's mail server, listening at the smarthost's port."""
    async for collector in running_smarthost(smarthost_port):
        yield collector


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[DnsServer]:
    """A real DNS server (dnsmasq) authoritative for .test, with no records yet."""
    server = DnsServer(tmp_path)
    server.publish({})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisRateLimitStore]:
    """A rate-limit store on Redis db 15 under its own prefix, emptied afterwards."""
    async for store in redis_store_for_test():
        yield store
