from datetime import timedelta

import pytest
from argon2.low_level import Type, hash_secret_raw
from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.passwords import chosen_lookup, lookup_hash, suggest_password
from mailward.db.models import Address, AuditEvent, Device, DeviceChange
from mailward.errors import (
    Conflict,
    NotFound,
)
from tests.support import World, other_org_admin

CHOSEN = "vivid-otter-clamps-17-brass-kettles"


async def stored(world: World, device_id: int) -> Device:
    async with world.services.db.unit_of_work() as uow:
        device = await uow.session.get(Device, device_id)
        assert device is not None
        return device


async def test_a_generated_password_is_stored_only_as_a_keyed_hash(world: World) -> None:
    new = await world.services.devices.add(world.admin, world.address, "Website form")
    device = await stored(world, new.device.id)
    assert device.password_hash is None
    assert device.password_lookup == lookup_hash(
        world.services.keys, device.address_id, new.password
    )
    assert device.password_key_id == world.services.keys.current_id


async def test_a_chosen_password_is_stored_with_argon2id(world: World) -> None:
    new = await world.services.devices.add(world.admin, world.address, "Phone", password=CHOSEN)
    device = await stored(world, new.device.id)
    assert new.device.password_kind == "chosen" and device.password_hash is None
    async with world.services.db.unit_of_work() as uow:
        address = await uow.session.get(Address, device.address_id)
        assert address is not None and address.password_salt is not None
        salt = address.password_salt
    stretched = hash_secret_raw(
        CHOSEN.encode(), salt, time_cost=2, memory_cost=19456, parallelism=1,
        hash_len=32, type=Type.ID,
    )  # fmt: skip
    keys = world.services.keys
    assert device.password_lookup == chosen_lookup(keys, device.address_id, stretched)


async def test_an_unchanged_suggestion_is_stored_as_generated(world: World) -> None:
    suggestion = suggest_password(world.services.keys)
    new = await world.services.devices.add(
        world.admin,
        world.address,
        "Laptop",
        password=suggestion.password,
        suggestion_proof=suggestion.proof,
    )
    assert new.device.password_kind == "generated" and new.password == suggestion.password
    edited = await world.services.devices.add(
        world.admin,
        world.address,
        "Tablet",
        password=suggestion.password + "Zz9",
        suggestion_proof=suggestion.proof,
    )
    assert edited.device.password_kind == "chosen"


async def test_modifying_the_password_replaces_the_old_one(world: World) -> None:
    new = await world.services.devices.add(world.admin, world.address, "Outlook")
    world.services.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    changed = await world.services.devices.change_password(world.legal, world.address, "Outlook")
    assert changed.password != new.password
    device = await stored(world, new.device.id)
    assert device.password_lookup == lookup_hash(
        world.services.keys, device.address_id, changed.password
    )
    assert changed.device.password_changed_at > new.device.created_at
    chosen = await world.services.devices.change_password(
        world.admin, world.address, str(new.device.id), CHOSEN
    )
    stored_chosen = await stored(world, new.device.id)
    assert chosen.device.password_kind == "chosen" and stored_chosen.password_lookup not in (
        None,
        device.password_lookup,
    )


async def test_revoking_one_device_leaves_the_others_and_is_idempotent(world: World) -> None:
    first = await world.services.devices.add(world.admin, world.address, "Intern, one week")
    second = await world.services.devices.add(world.admin, world.address, "Website form")
    await world.services.devices.revoke(world.admin, world.address, "Intern, one week")
    again = await world.services.devices.revoke(world.admin, world.address, str(first.device.id))
    assert again.status == "revoked"
    active = await world.services.devices.list(world.admin, world.address)
    assert [d.id for d in active] == [second.device.id]
    everything = await world.services.devices.list(world.admin, world.address, include_revoked=True)
    assert len(everything) == 2
    with pytest.raises(Conflict):
        await world.services.devices.change_password(
            world.admin, world.address, str(first.device.id)
        )
    async with world.services.db.unit_of_work() as uow:
        kinds = list(await uow.session.scalars(select(DeviceChange.kind).order_by(DeviceChange.id)))
    assert kinds == ["add", "add", "revoke"]


async def test_no_device_of_another_organization_is_reachable_by_id(world: World) -> None:
    outsider = await other_org_admin(world.services)
    ours = await world.services.devices.add(world.admin, world.address, "Website form")
    theirs = await world.services.devices.add(outsider, "sales@other.test", "Their CRM")
    key = str(ours.device.id)
    for call in (
        world.services.devices.get(outsider, world.address, key),
        world.services.devices.revoke(outsider, world.address, key),
        world.services.devices.change_password(outsider, world.address, key),
        world.services.devices.rename(outsider, world.address, key, "x"),
        world.services.devices.list(outsider, world.address),
    ):
        with pytest.raises(NotFound):
            await call
    # Their device id through our address: not found either.
    with pytest.raises(NotFound):
        await world.services.devices.revoke(world.admin, world.address, str(theirs.device.id))
    assert (
        await world.services.devices.get(outsider, "sales@other.test", "Their CRM")
    ).status == "active"


async def test_every_device_change_is_audited_with_actor_and_ip(world: World) -> None:
    await world.services.devices.add(world.admin, world.address, "CRM")
    await world.services.devices.change_password(world.admin, world.address, "CRM")
    await world.services.devices.revoke(Actor.operator(), world.address, "CRM")
    async with world.services.db.unit_of_work() as uow:
        events = list(await uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    device_events = [
        (e.action, e.actor, e.actor_ip) for e in events if e.action.startswith("device:")
    ]
    assert device_events == [
        ("device:add", "admin@corp.test", "192.0.2.2"),
        ("device:password_change", "admin@corp.test", "192.0.2.2"),
        ("device:revoke", "operator", None),
    ]
