"""``authenticate()``: the one login path of every mail protocol and data plane.

Order of work, cheapest first (DESIGN §3): normalize, rate limits (before any hashing),
credential cache, one indexed keyed-hash lookup, and only on a miss Argon2id over the
address's few chosen-password devices, in the hasher's bounded pool. An unknown
address, or a known one without chosen passwords, costs one dummy Argon2id check, so
timing does not tell whether an address exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from mailward.auth.cache import CredentialCache, DeviceGrant
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

FINGERPRINT_PURPOSE = "auth-failure"
WRONG = AuthFailure(FailureReason.WRONG_CREDENTIALS)
UNAVAILABLE = AuthFailure(FailureReason.UNAVAILABLE)
MAX_PASSWORD_LENGTH = 1024
T = TypeVar("T")
Found = tuple[AddressRecord | None, DeviceGrant | None]


@dataclass(frozen=True)
class Attempt:
    """One login attempt, normalized. ``subject`` is the address as rate limits see it
    (the normalized address, or the raw text when it is not one)."""

    subject: str
    local: str | None
    domain: str | None
    password: str
    protocol: str
    ip: str
    client_name: str | None

    @property
    def email(self) -> str | None:
        return f"{self.local}@{self.domain}" if self.local and self.domain else None


def make_attempt(
    address: str, password: str, protocol: str, client_ip: str, client_name: str | None
) -> Attempt:
    ip = client_ip.strip()[:64] or "unknown"
    try:
        local, domain = split_address(address)
    except InvalidInput:
        subject = "invalid:" + address.strip().lower()[:320]
        return Attempt(subject, None, None, password, protocol.lower(), ip, client_name)
    return Attempt(f"{local}@{domain}", local, domain, password, protocol.lower(), ip, client_name)


class Authenticator:
    """Implements :class:`mailward.auth.interfaces.DeviceAuthenticator`."""

    def __init__(
        self,
        *,
        keys: ServerKeys,
        directory: DeviceDirectory,
        hasher: PasswordHasher,
        limiter: RateLimiter,
        cache: CredentialCache,
        last_used: LastUsedRecorder,
        refusals: RefusalLog,
        clock: Clock,
        db_timeout: float = 5.0,
    ) -> None:
        self.keys = keys
        self.directory = directory
        self.hasher = hasher
        self.limiter = limiter
        self.cache = cache
        self.last_used = last_used
        self.refusals = refusals
        self.clock = clock
        self.db_timeout = db_timeout
        self._in_flight: dict[bytes, tuple[int, asyncio.Future[Found]]] = {}

    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        attempt = make_attempt(address, password, protocol, client_ip, client_name)
        if attempt.protocol not in MailProtocol.__members__.values():
            return WRONG
        verdict = await self.limiter.check(attempt.subject, attempt.ip)
        if verdict.limited is not None:
            return AuthFailure(FailureReason.RATE_LIMITED, verdict.limited.retry_after)
        if attempt.email is None or not password or len(password) > MAX_PASSWORD_LENGTH:
            return await self._failed(attempt)
        key = self.cache.key(attempt.email, password)
        grant = self.cache.get(key)
        if grant is not None:
            return await self._conclude(attempt, verdict, grant)
        if self.cache.is_known_failure(key):
            return await self._failed(attempt)
        epoch = self.cache.epoch
        try:
            address_record, grant = await self._find_once(key, attempt)
        except DirectoryUnavailable:
            return UNAVAILABLE
        if grant is None:
            address_id = address_record.address_id if address_record else None
            self.cache.remember_failure(key, address_id, epoch)
            return await self._failed(attempt)
        return await self._conclude(attempt, verdict, grant, key, epoch)

    def note_client_name(self, device_id: int, client_name: str) -> None:
        self.last_used.note_client_name(device_id, client_name)

    async def _find_once(self, key: bytes, attempt: Attempt) -> Found:
        """Concurrent attempts with the same credentials share one lookup (and so one
        Argon2id check): a client opening ten connections at once costs one. A lookup
        that started before a device change is never joined after it."""
        epoch = self.cache.epoch
        running = self._in_flight.get(key)
        if running is not None and running[0] == epoch:
            return await asyncio.shield(running[1])
        task = asyncio.ensure_future(self._find(attempt))
        entry = (epoch, task)
        self._in_flight[key] = entry

        def forget(_: object) -> None:
            if self._in_flight.get(key) is entry:
                del self._in_flight[key]

        task.add_done_callback(forget)
        return await asyncio.shield(task)

    async def _read(self, read: Awaitable[T]) -> T:
        """A database read, bounded in time (Argon2id work is not: it waits its turn)."""
        try:
            async with asyncio.timeout(self.db_timeout):
                return await read
        except TimeoutError:
            raise DirectoryUnavailable("timeout") from None

    async def _find(self, attempt: Attempt) -> Found:
        assert attempt.local is not None and attempt.domain is not None
        address = await self._read(self.directory.find_address(attempt.local, attempt.domain))
        if address is None:
            await self.hasher.verify(None, attempt.password)
            return None, None
        lookups = [
            lookup_hash(self.keys, address.address_id, attempt.password, key_id)
            for key_id in self.keys.keys
        ]
        grant = await self._read(self.directory.find_generated(address, lookups))
        if grant is not None:
            return address, grant
        return address, await self._verify_chosen(address, attempt.password)

    async def _verify_chosen(self, address: AddressRecord, password: str) -> DeviceGrant | None:
        candidates = await self._read(self.directory.chosen_devices(address))
        if not candidates:
            await self.hasher.verify(None, password)
        for candidate in candidates:
            if await self.hasher.verify(candidate.password_hash, password):
                return candidate.grant
        return None

    async def _conclude(
        self,
        attempt: Attempt,
        verdict: Verdict,
        grant: DeviceGrant,
        key: bytes | None = None,
        epoch: int = 0,
    ) -> AuthResult:
        now = self.clock.now()
        refusal = refusal_of(grant, attempt.protocol, attempt.ip, now)
        if refusal is not None:
            await self.refusals.refused(grant, refusal, attempt.protocol, attempt.ip)
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
