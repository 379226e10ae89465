"""Shared pieces of the login-flood and password-cost tests (no tests here).

Floods of thousands of attempts use a cheap Argon2id (64 KiB instead of 19 MiB):
what these tests prove is which attempts reach Argon2id and what they are answered,
counted, never timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.budget import HashingBounds
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure, AuthResult, FailureReason
from mailward.auth.limits import AuthLimits
from mailward.auth.runtime import build_authenticator, close_authenticator
from mailward.bootstrap import Services
from mailward.core.passwords import PasswordHasher
from mailward.limitstore import MemoryRateLimitStore, RateLimitStore
from tests.support import redis_store_for_test

CHOSEN = [
    "Quiet-Harbor-Lantern-47!",
    "Velvet^Glacier^Orchid^92",
    "Mango tundra Pixel 3081 zeal",
    "Copper;Falcon;Meadow;5519",
    "Saffron orbit Kettle 2207 jolt",
]


class CountingHasher(PasswordHasher):
    """A cheap Argon2id that counts its computations, stretches and checks apart."""

    def __init__(self, workers: int = 2) -> None:
        super().__init__(workers=workers, memory_kib=64)
        self.stretches = 0
        self.checks = 0

    def stretch_sync(self, password: str, salt: bytes) -> bytes:
        self.stretches += 1
        return super().stretch_sync(password, salt)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        self.checks += 1
        return super().verify_sync(stored, password)


class GatedHasher(CountingHasher):
    """Every Argon2id computation waits until the test opens the gate: a pool that is
    busy for as long as the test wants."""

    def __init__(self) -> None:
        super().__init__(workers=2)
        self.gate = asyncio.Event()

    async def stretch(self, password: str, salt: bytes | None) -> bytes:
        await self.gate.wait()
        return await super().stretch(password, salt)


@pytest.fixture(params=["memory", "redis"])
async def limit_store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    if request.param == "memory":
        yield MemoryRateLimitStore()
        return
    async for store in redis_store_for_test():
        yield store


def flood_authenticator(
    services: Services,
    store: RateLimitStore,
    hasher: PasswordHasher | None = None,
    limits: AuthLimits | None = None,
    bounds: HashingBounds | None = None,
) -> Authenticator:
    """An authenticator whose mail-login pool is ``hasher`` (a cheap counting one by
    default). The manager's pool becomes cheap too (a chosen password is stretched with
    the same parameters when it is stored); the services close both."""
    services.deps.close_hashers()
    services.deps.hasher = CountingHasher()
    services.deps.login_hasher = hasher or CountingHasher()
    auth = build_authenticator(services, limits=limits, store=store)
    if bounds is not None:
        auth.budget.bounds = bounds
    return auth


async def closed(auth: Authenticator) -> None:
    await close_authenticator(auth)


def is_device(result: AuthResult, device_id: int) -> bool:
    return isinstance(result, AuthenticatedDevice) and result.device_id == device_id


def is_temporary(result: AuthResult) -> bool:
    return isinstance(result, AuthFailure) and result.reason in (
        FailureReason.RATE_LIMITED,
        FailureReason.UNAVAILABLE,
    )


def is_wrong(result: AuthResult) -> bool:
    return isinstance(result, AuthFailure) and result.reason is FailureReason.WRONG_CREDENTIALS
