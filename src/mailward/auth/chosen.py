"""Checking a chosen device password: one Argon2id computation whatever the address
holds (DESIGN §3).

The password is stretched once with the address's salt; the keyed hash of the result
is looked up in the devices' indexed column, which finds any of the address's chosen
devices. An unknown address, or one without chosen passwords, is stretched with a
dummy salt: the same work, so timing tells nothing. Devices still kept as per-device
hashes (made before address salts) are verified one by one and converted at their
first successful login; until then each adds one Argon2id to a miss.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import update

from mailward.auth.cache import DeviceGrant
from mailward.auth.directory import DATABASE_ERRORS, AddressRecord, ChosenDevice, DeviceDirectory
from mailward.core.devices.chosen_passwords import address_salt
from mailward.core.passwords import PasswordHasher, chosen_lookup
from mailward.db.engine import Database
from mailward.db.models import Device
from mailward.errors import Conflict
from mailward.keys import ServerKeys

log = logging.getLogger(__name__)
T = TypeVar("T")


class Read(Protocol):
    """A database read bounded in time (raises ``DirectoryUnavailable``)."""

    async def __call__(self, read: Awaitable[T]) -> T: ...


@dataclass(eq=False)
class ChosenPasswordCheck:
    keys: ServerKeys = field(repr=False)
    directory: DeviceDirectory
    hasher: PasswordHasher
    db: Database

    async def check(
        self, address: AddressRecord | None, password: str, read: Read
    ) -> DeviceGrant | None:
        """The chosen-password device ``password`` opens, if any. ``read`` bounds each
        database read in time (it raises ``DirectoryUnavailable``)."""
        if address is None:
            await self.hasher.stretch(password, None)
            return None
        salt = await read(self.directory.address_salt(address))
        legacy = await read(self.directory.chosen_devices(address))
        stretched = await self.hasher.stretch(password, salt)
        if salt is not None:
            lookups = [
                chosen_lookup(self.keys, address.address_id, stretched, key_id)
                for key_id in self.keys.keys
            ]
            grant = await read(self.directory.find_generated(address, lookups))
            if grant is not None:
                return grant
        for candidate in legacy:
            if await self.hasher.verify(candidate.password_hash, password):
                await self._convert(address, candidate, password)
                return candidate.grant
        return None

    async def _convert(self, address: AddressRecord, device: ChosenDevice, password: str) -> None:
        """Store the device's password the salted way; on any error it stays as it was
        (and keeps working)."""
        try:
            async with self.db.unit_of_work() as uow:
                salt = await address_salt(uow.session, address.address_id)
            stretched = await self.hasher.stretch(password, salt)
            lookup = chosen_lookup(self.keys, address.address_id, stretched)
            async with self.db.unit_of_work() as uow:
                await uow.session.execute(
                    update(Device)
                    .where(
                        Device.id == device.grant.device_id,
                        Device.password_hash == device.password_hash,
                    )
                    .values(
                        password_lookup=lookup,
                        password_key_id=self.keys.current_id,
                        password_hash=None,
                    )
                    .execution_options(synchronize_session=False)
                )
        except (*DATABASE_ERRORS, Conflict) as exc:
            log.info("a chosen device password stays unconverted: %s", exc.__class__.__name__)
