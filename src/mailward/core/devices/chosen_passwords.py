"""Storing a chosen device password so that a login checks it with one Argon2id.

The address has one salt; the device keeps the keyed hash of Argon2id(password, salt)
in ``password_lookup``, the indexed column of generated passwords. A login stretches
the password once and finds whichever of the address's chosen devices it belongs to
with one index lookup (see :mod:`mailward.core.passwords`).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.deps import CoreDeps
from mailward.core.passwords import chosen_lookup, new_address_salt
from mailward.db.models import Address, Device
from mailward.errors import Conflict


async def address_salt(session: AsyncSession, address_id: int) -> bytes:
    """The address's salt, made on first use (of two concurrent first uses, the salt
    written first is kept)."""
    await session.execute(
        update(Address)
        .where(Address.id == address_id, Address.password_salt.is_(None))
        .values(password_salt=new_address_salt())
        .execution_options(synchronize_session=False)
    )
    salt = await session.scalar(select(Address.password_salt).where(Address.id == address_id))
    if salt is None:
        raise Conflict("the address was deleted meanwhile")
    return salt


async def store_chosen_password(
    session: AsyncSession, deps: CoreDeps, device: Device, password: str
) -> None:
    """Set ``device``'s password to a chosen one (already checked for strength)."""
    salt = await address_salt(session, device.address_id)
    stretched = await deps.hasher.stretch(password, salt)
    lookup = chosen_lookup(deps.keys, device.address_id, stretched)
    await _password_free(session, device, lookup)
    device.password_kind = "chosen"
    device.password_lookup = lookup
    device.password_key_id = deps.keys.current_id
    device.password_hash = None


async def _password_free(session: AsyncSession, device: Device, lookup: bytes) -> None:
    """Two live devices of an address cannot share a chosen password (a login could not
    tell which one it is); a revoked device's old password is simply forgotten."""
    holder = await session.scalar(select(Device).where(Device.password_lookup == lookup))
    if holder is None or holder is device:
        return
    if holder.revoked_at is None:
        raise Conflict("another device of this address already uses this password")
    holder.password_lookup = None
    await session.flush()
