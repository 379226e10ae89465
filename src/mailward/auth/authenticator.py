"""``authenticate()``: the one login path of every mail protocol and data plane.

Order of work, cheapest first (DESIGN §3, §7): normalize and bound the input; the
credential cache (a hit logs in without asking the rate limiter anything); one
indexed keyed-hash lookup of a generated password (a hit logs in whatever the counters
say: 115 bits are not guessed); only then the rate limits, and, when they allow it,
one Argon2id computation for the chosen passwords (:mod:`mailward.auth.chosen`),
bounded per client network, per address and in total (:mod:`mailward.auth.budget`).
Refusals of the limits and of a full Argon2id queue are temporary failures ("try
later"), never "wrong password".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from mailward.auth.budget import HashingBudget, HashingBusy
from mailward.auth.cache import CredentialCache, DeviceGrant
from mailward.auth.chosen import ChosenPasswordCheck
from mailward.auth.directory import AddressRecord, DeviceDirectory, DirectoryUnavailable
from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthFailure,
    AuthResult,
    FailureReason,
    MailProtocol,
)
from mailward.auth.lastused import LastUsedRecorder
from mailward.auth.limits import RateLimiter, Verdict
from mailward.auth.refusals import RefusalLog, refusal_of
from mailward.clock import Clock
from mailward.core.names import split_address
from mailward.core.passwords import PasswordHasher, lookup_hash
from mailward.errors import InvalidInput
from mailward.keys import ServerKeys
from mailward.ops.metrics import DATABASE_ERRORS, LoginMeter

FINGERPRINT_PURPOSE = "auth-failure"
WRONG = AuthFailure(FailureReason.WRONG_CREDENTIALS)
UNAVAILABLE = AuthFailure(FailureReason.UNAVAILABLE)
BUSY_RETRY_SECONDS = 5.0
MAX_PASSWORD_LENGTH = 1024
MAX_ADDRESS_LENGTH = 320
T = TypeVar("T")


@dataclass(frozen=True)
class Attempt:
    """One login attempt, normalized: ``subject`` is the address as rate limits see it."""

    subject: str
    local: str
    domain: str
    password: str
    protocol: str
    ip: str
    client_name: str | None


def make_attempt(
    address: str, password: str, protocol: str, client_ip: str, client_name: str | None
) -> Attempt | None:
    """The attempt, or None when it cannot be right (answered without any work)."""
    protocol = protocol.lower()
    if protocol not in MailProtocol.__members__.values():
        return None
    if not password or len(password) > MAX_PASSWORD_LENGTH or len(address) > MAX_ADDRESS_LENGTH:
        return None
    try:
        local, domain = split_address(address)
    except InvalidInput:
        return None
    ip = client_ip.strip()[:64] or "unknown"
    return Attempt(f"{local}@{domain}", local, domain, password, protocol, ip, client_name)


@dataclass(kw_only=True, eq=False)
class Authenticator:
    """Implements :class:`mailward.auth.interfaces.DeviceAuthenticator`."""

    keys: ServerKeys = field(repr=False)
    directory: DeviceDirectory
    hasher: PasswordHasher
    limiter: RateLimiter
    cache: CredentialCache
    last_used: LastUsedRecorder
    refusals: RefusalLog
    clock: Clock
    chosen: ChosenPasswordCheck
    budget: HashingBudget = field(default_factory=HashingBudget)
    db_timeout: float = 5.0
    meter: LoginMeter = field(default_factory=LoginMeter, init=False)
    _in_flight: dict[bytes, tuple[int, asyncio.Future[DeviceGrant | None]]] = field(
        default_factory=dict, init=False
    )

    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        started = time.perf_counter()
        result = await self._authenticate(address, password, protocol, client_ip, client_name)
        self.meter.record(protocol, result, started)
        return result

    async def _authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None,
    ) -> AuthResult:
        attempt = make_attempt(address, password, protocol, client_ip, client_name)
        if attempt is None:
            return WRONG
        key = self.cache.key(attempt.subject, password)
        grant = self.cache.get(key)
        if grant is not None:
            return await self._conclude(attempt, grant, None)
        if self.cache.is_known_failure(key):
            return await self._failed(attempt)
        epoch = self.cache.epoch
        try:
            return await self._look_up(attempt, key, epoch)
        except DirectoryUnavailable:
            DATABASE_ERRORS.inc()
            return UNAVAILABLE
        except HashingBusy:
            return AuthFailure(FailureReason.UNAVAILABLE, BUSY_RETRY_SECONDS)

    def note_client_name(self, device_id: int, client_name: str) -> None:
        self.last_used.note_client_name(device_id, client_name)

    async def _look_up(self, attempt: Attempt, key: bytes, epoch: int) -> AuthResult:
        address = await self._read(self.directory.find_address(attempt.local, attempt.domain))
        if address is not None:
            grant = await self._find_generated(address, attempt.password)
            if grant is not None:
                return await self._conclude(attempt, grant, None, key, epoch)
        verdict = await self.limiter.check(attempt.subject, attempt.ip)
        if verdict.limited is not None:
            return AuthFailure(FailureReason.RATE_LIMITED, verdict.limited.retry_after)
        grant = await self._chosen_once(key, attempt, address)
        if grant is None:
            self.cache.remember_failure(key, address.address_id if address else None, epoch)
            return await self._failed(attempt)
        return await self._conclude(attempt, grant, verdict, key, epoch)

    async def _find_generated(self, address: AddressRecord, password: str) -> DeviceGrant | None:
        lookups = [
            lookup_hash(self.keys, address.address_id, password, key_id)
            for key_id in self.keys.keys
        ]
        return await self._read(self.directory.find_generated(address, lookups))

    async def _chosen_once(
        self, key: bytes, attempt: Attempt, address: AddressRecord | None
    ) -> DeviceGrant | None:
        """Concurrent attempts with the same credentials share one Argon2id check: a
        client opening ten connections at once costs one (and one slot of the budget).
        A check that started before a device change is never joined after it."""
        epoch = self.cache.epoch
        running = self._in_flight.get(key)
        if running is not None and running[0] == epoch:
            return await asyncio.shield(running[1])
        with self.budget.slot(self.limiter.network(attempt.ip), attempt.subject):
            task = asyncio.ensure_future(self.chosen.check(address, attempt.password, self._read))
            entry = (epoch, task)
            self._in_flight[key] = entry
            try:
                return await asyncio.shield(task)
            finally:
                if self._in_flight.get(key) is entry:
                    del self._in_flight[key]

    async def _read(self, read: Awaitable[T]) -> T:
        """A database read, bounded in time (Argon2id work is bounded by the budget)."""
        try:
            async with asyncio.timeout(self.db_timeout):
                return await read
        except TimeoutError:
            raise DirectoryUnavailable("timeout") from None

    async def _conclude(
        self,
        attempt: Attempt,
        grant: DeviceGrant,
        verdict: Verdict | None,
        key: bytes | None = None,
        epoch: int = 0,
    ) -> AuthResult:
        """A right password: check the device's scope, remember it, note the use. Only
        a fresh verification (``key`` given) tells the limiter this network is known."""
        now = self.clock.now()
        refusal = refusal_of(grant, attempt.protocol, attempt.ip, now)
        if refusal is not None:
            await self.refusals.refused(grant, refusal, attempt.protocol, attempt.ip)
            self.last_used.note_refused(
                grant.device_id, now, attempt.ip, attempt.protocol, attempt.client_name
            )
            return await self._failed(attempt)
        if key is not None:
            self.cache.put(key, grant, epoch)
            await self.limiter.record_success(attempt.subject, attempt.ip, verdict)
        self.last_used.note(grant.device_id, now, attempt.ip, attempt.protocol, attempt.client_name)
        return AuthenticatedDevice(
            grant.device_id, grant.address_id, grant.address, grant.device_name
        )

    async def _failed(self, attempt: Attempt) -> AuthFailure:
        fingerprint = self.keys.mac(
            FINGERPRINT_PURPOSE,
            attempt.subject.encode(),
            attempt.ip.encode(),
            attempt.password.encode(),
        ).hex()[:32]
        await self.limiter.record_failure(attempt.subject, attempt.ip, fingerprint)
        return WRONG
