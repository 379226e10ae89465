"""Regression tests of the attacks on the running service (tenant isolation, abuse of
the mail front). Shared fixtures come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailward.limitstore import MemoryRateLimitStore, RateLimitStore
from tests.integration.mail_world import MailWorld, running_mail
from tests.support import World, redis_store_for_test


@pytest.fixture(params=["memory", "redis"])
async def limit_store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    """The login-limit counters, in memory and on Redis (the floods run on both)."""
    if request.param == "memory":
        yield MemoryRateLimitStore()
        return
    async for store in redis_store_for_test():
        yield store


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    """The embedded mail server on free ports, no device yet (a file may override it)."""
    async with running_mail(world) as mail:
        yield mail
