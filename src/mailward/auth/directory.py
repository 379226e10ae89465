"""The database reads of the login path: an address, then one indexed device lookup.

Plain SQL expressions on a pooled connection (no ORM session, no unit of work): the
generated-password path is one indexed query once the address id is known. Address
ids are remembered for a minute; they never change for an email (an address that was
deleted and re-created fails closed until then: its old id finds no device).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.exc import SQLAlchemyError

from mailward.auth.cache import DeviceGrant, Network
from mailward.auth.stores import Monotonic
from mailward.db.engine import Database
from mailward.db.models import Address, Device, MailService


class DirectoryUnavailable(Exception):
    """The database could not answer; the login gets a temporary failure."""


DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError, ConnectionError)


@dataclass(frozen=True)
class AddressRecord:
    address_id: int
    organization_id: int
    email: str


@dataclass(frozen=True)
class ChosenDevice:
    grant: DeviceGrant
    password_hash: str


_DEVICE_COLUMNS = (
    Device.id,
    Device.name,
    Device.revoked_at,
    Device.expires_at,
    Device.allowed_protocols,
    Device.allowed_networks,
)


def parse_networks(text: str) -> tuple[Network, ...]:
    networks = []
    for value in text.split(","):
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            continue  # empty, or damaged by hand: ignored, never widening the scope
    return tuple(networks)


def grant_of(row: Row[Any], address: AddressRecord) -> DeviceGrant:
    return DeviceGrant(
        device_id=row.id,
        address_id=address.address_id,
        organization_id=address.organization_id,
        address=address.email,
        device_name=row.name,
        revoked=row.revoked_at is not None,
        expires_at=row.expires_at,
        protocols=frozenset(p for p in row.allowed_protocols.split(",") if p),
        networks=parse_networks(row.allowed_networks) if row.allowed_networks else (),
    )


class DeviceDirectory:
    def __init__(
        self,
        db: Database,
        address_ttl: float = 60.0,
        max_addresses: int = 50_000,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.db = db
        self.address_ttl = address_ttl
        self.max_addresses = max_addresses
        self._now = monotonic
        self._addresses: dict[str, tuple[AddressRecord, float]] = {}

    async def find_address(self, local: str, domain: str) -> AddressRecord | None:
        email = f"{local}@{domain}"
        cached = self._addresses.get(email)
        if cached is not None and cached[1] > self._now():
            return cached[0]
        query = (
            select(Address.id, MailService.organization_id)
            .join(MailService, MailService.id == Address.mail_service_id)
            .where(MailService.domain == domain, Address.local_part == local)
        )
        row = (await self._rows(query))[:1]
        if not row:
            return None
        record = AddressRecord(row[0].id, row[0].organization_id, email)
        if len(self._addresses) >= self.max_addresses:
            self._addresses.clear()
        self._addresses[email] = (record, self._now() + self.address_ttl)
        return record

    async def find_generated(
        self, address: AddressRecord, lookups: Sequence[bytes]
    ) -> DeviceGrant | None:
        """The device whose keyed hash is one of ``lookups`` (one per server key)."""
        query = select(*_DEVICE_COLUMNS).where(
            Device.password_lookup.in_(list(lookups)), Device.address_id == address.address_id
        )
        rows = await self._rows(query)
        return grant_of(rows[0], address) if rows else None

    async def chosen_devices(self, address: AddressRecord) -> list[ChosenDevice]:
        """The address's live chosen-password devices (a handful at most)."""
        query = select(*_DEVICE_COLUMNS, Device.password_hash).where(
            Device.address_id == address.address_id,
            Device.revoked_at.is_(None),
            Device.password_kind == "chosen",
        )
        rows = await self._rows(query)
        return [
            ChosenDevice(grant_of(r, address), r.password_hash) for r in rows if r.password_hash
        ]

    async def _rows(self, query: Any) -> list[Row[Any]]:
        try:
            async with self.db.engine.connect() as conn:
                return list(await conn.execute(query))
        except DATABASE_ERRORS as exc:
            raise DirectoryUnavailable(exc.__class__.__name__) from exc
