"""DKIM key material and its rows: making a key pair, naming its selector, storing it
sealed. The use cases (listing, rotating, signing keys) are in ``dkim``; Mail Services
get their first pair here when they are created or verified."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.db.models import DkimKey, MailService
from mailward.keys import ServerKeys

SEAL_PURPOSE = "dkim-private-key"
SELECTOR_PREFIX = "mw"
ALGORITHMS = {"rsa": "r", "ed25519": "e"}
RSA_BITS = 2048


@dataclass(frozen=True)
class NewKey:
    algorithm: str
    public_key: str  # base64, as published (p=)
    private_pem: bytes


def dkim_record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}."


def dkim_record_value(algorithm: str, public_key: str) -> str:
    return f"v=DKIM1; k={algorithm}; p={public_key}"


def new_key(algorithm: str) -> NewKey:
    """A fresh key pair (RSA 2048 takes a fraction of a second: call it off the loop)."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        public_der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        public_der = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return NewKey(algorithm, base64.b64encode(public_der).decode(), pem)


def selector_for(now: datetime, algorithm: str, taken: set[str]) -> str:
    """``mw20261203r``; a second rotation the same day gets ``mw20261203r2``, and so on."""
    base = f"{SELECTOR_PREFIX}{now:%Y%m%d}{ALGORITHMS[algorithm]}"
    selector, n = base, 1
    while selector in taken:
        n += 1
        selector = f"{base}{n}"
    return selector


async def keys_of(session: AsyncSession, mail_service_id: int) -> list[DkimKey]:
    """Active keys first, then retired ones, newest first; RSA before Ed25519."""
    rows = await session.scalars(
        select(DkimKey)
        .where(DkimKey.mail_service_id == mail_service_id)
        .order_by(
            DkimKey.retired_at.is_not(None),
            DkimKey.created_at.desc(),
            DkimKey.algorithm.desc(),
            DkimKey.id.desc(),
        )
    )
    return list(rows)


async def add_key_pair(
    session: AsyncSession, server_keys: ServerKeys, mail_service: MailService, now: datetime
) -> list[DkimKey]:
    """A new active RSA + Ed25519 pair for the Mail Service (the caller retires the old)."""
    taken = {k.selector for k in await keys_of(session, mail_service.id)}
    made = []
    for algorithm in ALGORITHMS:
        fresh = await asyncio.to_thread(new_key, algorithm)
        key = DkimKey(
            mail_service_id=mail_service.id,
            selector=selector_for(now, algorithm, taken),
            algorithm=algorithm,
            public_key=fresh.public_key,
            private_key_sealed=server_keys.seal(SEAL_PURPOSE, fresh.private_pem),
            created_at=now,
        )
        session.add(key)
        made.append(key)
    await session.flush()
    return made


async def ensure_first_keys(
    session: AsyncSession, server_keys: ServerKeys, mail_service: MailService, now: datetime
) -> None:
    """The first pair of a Mail Service that has none (when it is created or verified)."""
    if not await keys_of(session, mail_service.id):
        await add_key_pair(session, server_keys, mail_service, now)
