"""The database reads of the login path: an address, then one indexed device lookup.

Address ids are remembered for a minute; they never change for an email (an address
that was deleted and re-created fails closed until then: its old id finds no device).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailward.auth.cache import DeviceGrant, Network
from mailward.auth.readers import (
    DATABASE_ERRORS,
    DeviceColumns,
    DirectoryUnavailable,
    LoginReader,
    reader_for,
)
from mailward.db.engine import Database
from mailward.limitstore import Monotonic

__all__ = ["DATABASE_ERRORS", "DeviceDirectory", "DirectoryUnavailable"]


@dataclass(frozen=True)
class AddressRecord:
    address_id: int
    organization_id: int
    email: str


@dataclass(frozen=True)
class ChosenDevice:
    grant: DeviceGrant
    password_hash: str


def parse_networks(text: str) -> tuple[Network, ...]:
    networks = []
    for value in text.split(","):
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            continue  # empty, or damaged by hand: ignored, never widening the scope
    return tuple(networks)


def grant_of(row: DeviceColumns, address: AddressRecord) -> DeviceGrant:
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


@dataclass(eq=False, repr=False)  # the cache stays out of logs
class DeviceDirectory:
    db: Database
    address_ttl: float = 60.0
    max_addresses: int = 50_000
    monotonic: Monotonic = time.monotonic
    reader: LoginReader = field(init=False)
    _addresses: dict[str, tuple[AddressRecord, float]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.reader = reader_for(self.db)

    async def find_address(self, local: str, domain: str) -> AddressRecord | None:
        email = f"{local}@{domain}"
        cached = self._addresses.get(email)
        if cached is not None and cached[1] > self.monotonic():
            return cached[0]
        found = await self.reader.address(local, domain)
        if found is None:
            return None
        record = AddressRecord(found[0], found[1], email)
        if len(self._addresses) >= self.max_addresses:
            self._addresses.clear()
        self._addresses[email] = (record, self.monotonic() + self.address_ttl)
        return record

    async def find_generated(
        self, address: AddressRecord, lookups: Sequence[bytes]
    ) -> DeviceGrant | None:
        """The device whose keyed hash is one of ``lookups`` (one per server key)."""
        row = await self.reader.generated(address.address_id, lookups)
        return grant_of(row, address) if row else None

    async def chosen_devices(self, address: AddressRecord) -> list[ChosenDevice]:
        """The address's live chosen-password devices still kept as per-device Argon2id
        hashes (older than address salts; a handful at most, usually none)."""
        rows = await self.reader.chosen(address.address_id)
        return [
            ChosenDevice(grant_of(r, address), r.password_hash) for r in rows if r.password_hash
        ]

    async def address_salt(self, address: AddressRecord) -> bytes | None:
        return await self.reader.salt(address.address_id)

    async def close(self) -> None:
        await self.reader.close()
