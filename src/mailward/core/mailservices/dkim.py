"""DKIM keys per Mail Service: made by Mailward, published in DNS, rotated by the operator.

Each verified Mail Service signs with two keys at a time, RSA 2048 (what every receiver
checks) and Ed25519 (RFC 8463), named by the day they were made: ``mw20261203r`` and
``mw20261203e`` (``mw20261203r2`` for a second rotation that day). The private keys are
sealed with the server key ring (``ServerKeys.seal``) before they reach the database, so
a copy of the database alone signs nothing; rotating the key ring keeps old keys
readable as long as their key id stays in the ring.

Rotation makes a new pair active at once and *retires* the old pair: retired keys no
longer sign but stay listed (and should stay published) until the operator removes them,
so mail already on its way still verifies. Publish the new selector's record before
rotating in production (``mailward dkim list`` shows it once created).

Mail Services that existed before DKIM get their first pair lazily, the first time
their keys are asked for (signing, the DNS page, the CLI).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.deps import CoreDeps
from mailward.core.mailservices.dkim_keys import (
    SEAL_PURPOSE,
    add_key_pair,
    dkim_record_name,
    dkim_record_value,
    ensure_first_keys,
    keys_of,
)
from mailward.core.mailservices.service import VERIFIED_ONLY, get_mail_service
from mailward.core.names import normalize_domain
from mailward.db.models import DkimKey, MailService
from mailward.errors import Conflict, InvalidInput, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class DkimKeyView:
    """A key as listed: its selector, state and the TXT record that publishes it."""

    domain: str
    selector: str
    algorithm: str  # "rsa" | "ed25519"
    created_at: datetime
    retired_at: datetime | None
    record_value: str  # v=DKIM1; k=...; p=...

    @property
    def active(self) -> bool:
        return self.retired_at is None

    @property
    def record_name(self) -> str:
        return dkim_record_name(self.selector, self.domain)


@dataclass(frozen=True)
class SigningKey:
    """An active key, private half unsealed: for the signer only, never shown or logged."""

    domain: str
    selector: str
    algorithm: str
    private_pem: bytes  # PKCS#8 PEM, RSA or Ed25519

    def __repr__(self) -> str:
        return f"SigningKey({self.domain!r}, {self.selector!r}, {self.algorithm!r})"

    @property
    def signature_algorithm(self) -> bytes:
        return b"rsa-sha256" if self.algorithm == "rsa" else b"ed25519-sha256"

    @property
    def dkimpy_private_key(self) -> bytes:
        """What dkimpy's ``sign`` takes: the PEM for RSA, the base64 seed for Ed25519."""
        if self.algorithm == "rsa":
            return self.private_pem
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(raw)


def key_view(domain: str, key: DkimKey) -> DkimKeyView:
    return DkimKeyView(
        domain=domain,
        selector=key.selector,
        algorithm=key.algorithm,
        created_at=key.created_at,
        retired_at=key.retired_at,
        record_value=dkim_record_value(key.algorithm, key.public_key),
    )


def _refuse_pending(mail_service: MailService) -> None:
    if mail_service.verified_at is None:
        raise Conflict(
            f"the domain {mail_service.domain} is not verified yet: it gets its DKIM keys "
            "once it is"
        )


def check_selector(selector: str) -> str:
    clean = selector.strip().lower()
    if not clean or len(clean) > 63 or not all(c.isalnum() or c == "-" for c in clean):
        raise InvalidInput("selector", "a DKIM selector is letters, digits and hyphens")
    return clean


class DkimKeyService:
    """Listing, rotating and removing keys (managers and the operator), and the active
    keys for the signer (the mail plane, no actor: it signs what it already accepted)."""

    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def list_keys(self, actor: Actor, key: int | str) -> list[DkimKeyView]:
        """The Mail Service's keys with their records (a verified one gets its first pair
        now if it has none); none for a pending one."""
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await get_mail_service(uow.session, actor, key)
            if mail_service.verified_at is None:
                return []
            domain = mail_service.domain
        return await self.published(domain)

    async def _ensure(self, domain: str) -> None:
        try:
            async with self.deps.db.unit_of_work() as uow:
                mail_service = await _verified(uow.session, domain)
                if mail_service is not None:
                    now = self.deps.clock.now()
                    await ensure_first_keys(uow.session, self.deps.keys, mail_service, now)
        except IntegrityError:
            pass  # made at the same moment by another request: theirs are read next

    async def rotate(self, actor: Actor, key: int | str) -> list[DkimKeyView]:
        """A new active pair; the previous active keys are retired (still listed)."""
        async with self.deps.db.unit_of_work() as uow:
            session = uow.session
            mail_service = await get_mail_service(session, actor, key)
            await require_manager(session, actor, mail_service.organization_id, "rotate DKIM keys")
            _refuse_pending(mail_service)
            now = self.deps.clock.now()
            for old in await keys_of(session, mail_service.id):
                if old.retired_at is None:
                    old.retired_at = now
            await add_key_pair(session, self.deps.keys, mail_service, now)
            return [
                key_view(mail_service.domain, k) for k in await keys_of(session, mail_service.id)
            ]

    async def remove(self, actor: Actor, key: int | str, selector: str) -> DkimKeyView:
        """Remove a retired key; an active one is refused (rotate first)."""
        clean = check_selector(selector)
        async with self.deps.db.unit_of_work() as uow:
            session = uow.session
            mail_service = await get_mail_service(session, actor, key)
            await require_manager(session, actor, mail_service.organization_id, "remove DKIM keys")
            found = next(
                (k for k in await keys_of(session, mail_service.id) if k.selector == clean), None
            )
            if found is None:
                raise NotFound("DKIM selector", f"{clean} of {mail_service.domain}")
            if found.retired_at is None:
                raise Conflict(
                    f"the DKIM key {clean} of {mail_service.domain} still signs mail: rotate "
                    "the keys first (mailward dkim rotate), then remove the old selector"
                )
            view = key_view(mail_service.domain, found)
            await session.delete(found)
            return view

    async def published(self, domain: str) -> list[DkimKeyView]:
        """Every key of a verified domain (active and retired), for its DNS records."""
        return await self._of_verified(domain, key_view)

    async def signing_keys(self, domain: str) -> list[SigningKey]:
        """The active keys of a verified domain, unsealed; none for any other domain."""
        unseal = self.deps.keys.unseal

        def signing(domain: str, key: DkimKey) -> SigningKey:
            private_pem = unseal(SEAL_PURPOSE, key.private_key_sealed)
            return SigningKey(domain, key.selector, key.algorithm, private_pem)

        return await self._of_verified(domain, signing, active_only=True)

    async def _of_verified(
        self, domain: str, read: Callable[[str, DkimKey], T], active_only: bool = False
    ) -> list[T]:
        """``read`` of each key of a verified domain (its first pair made now if it has
        none), in :func:`keys_of` order; none for any other domain."""
        await self._ensure(domain)
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await _verified(uow.session, domain)
            if mail_service is None:
                return []
            rows = await keys_of(uow.session, mail_service.id)
            keys = [k for k in rows if k.retired_at is None or not active_only]
            return [read(mail_service.domain, k) for k in keys]


async def _verified(session: AsyncSession, domain: str) -> MailService | None:
    try:
        clean = normalize_domain(domain)
    except InvalidInput:
        return None
    found: MailService | None = await session.scalar(
        select(MailService).where(MailService.domain == clean, VERIFIED_ONLY)
    )
    return found
