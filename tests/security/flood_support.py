"""Shared pieces of the login-flood and password-cost tests (no tests here).

Floods of thousands of attempts use a cheap Argon2id (64 KiB instead of 19 MiB):
what these tests prove is which attempts reach Argon2id and what they are answered,
counted, never timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from mailward.auth.authenticator import Authenticator
from mailward.auth.budget import HashingBounds
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure, AuthResult, FailureReason
from mailward.auth.limits import AuthLimits
from mailward.auth.runtime import close_authenticator
from mailward.bootstrap import Services
from mailward.core.passwords import PasswordHasher
from mailward.limitstore import RateLimitStore
from tests.integration.auth_devices import CHOSEN_PASSWORDS

CHOSEN = CHOSEN_PASSWORDS


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


@asynccontextmanager
async def flood_authenticator(
    services: Services,
    store: RateLimitStore,
    hasher: PasswordHasher | None = None,
    limits: AuthLimits | None = None,
    bounds: HashingBounds | None = None,
) -> AsyncIterator[Authenticator]:
    """An authenticator whose mail-login pool is ``hasher`` (a cheap counting one by
    default). The manager's pool becomes cheap too (a chosen password is stretched with
    the same parameters when it is stored); the services close both."""
    services.deps.close_hashers()
    services.deps.hasher = CountingHasher()
    services.deps.login_hasher = hasher or CountingHasher()
    auth = services.build_authenticator(limits=limits, store=store)
    if bounds is not None:
        auth.budget.bounds = bounds
    try:
        yield auth
    finally:
        await close_authenticator(auth)


def count_calls(store: RateLimitStore) -> list[int]:
    """Count the store's ``counts`` calls (round trips) in the returned one-item list."""
    calls = [0]
    asked = store.counts

    async def counting(keys: Sequence[str]) -> list[int]:
        calls[0] += 1
        return await asked(keys)

    store.counts = counting  # type: ignore[method-assign]
    return calls


def is_device(result: AuthResult, device_id: int) -> bool:
    return isinstance(result, AuthenticatedDevice) and result.device_id == device_id


def is_temporary(result: AuthResult) -> bool:
    return isinstance(result, AuthFailure) and result.reason in (
        FailureReason.RATE_LIMITED,
        FailureReason.UNAVAILABLE,
    )


def is_wrong(result: AuthResult) -> bool:
    return isinstance(result, AuthFailure) and result.reason is FailureReason.WRONG_CREDENTIALS
