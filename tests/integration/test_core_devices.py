from datetime import timedelta

import pytest
from argon2.low_level import Type, hash_secret_raw
from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.devices.service import MAX_CHOSEN_PER_ADDRESS, DeviceOptions
from mailward.core.passwords import chosen_lookup, lookup_hash, suggest_password
from mailward.db.models import Address, AuditEvent, Device, DeviceChange
from mailward.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    WeakPassword,
)
from tests.integration.test_core_organizations import other_org_admin
from tests.support import World, accept_offers

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


async def test_a_weak_chosen_password_is_refused_and_nothing_is_created(world: World) -> None:
    with pytest.raises(WeakPassword, match="at least 16"):
        await world.services.devices.add(world.admin, world.address, "CRM", password="short")
    assert await world.services.devices.list(world.admin, world.address) == []


async def test_devices_for_a_user_require_the_user_to_be_on_the_address(world: World) -> None:
    with pytest.raises(InvalidInput, match="not a user of this address"):
        await world.services.devices.add(world.admin, world.address, "Phone", world.user.label)
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(world.services, world.user)
    new = await world.services.devices.add(world.admin, world.address, "Phone", world.user.label)
    assert new.device.user_email == world.user.label


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


async def test_device_names_are_unique_among_active_devices(world: World) -> None:
    await world.services.devices.add(world.admin, world.address, "CRM")
    with pytest.raises(AlreadyExists):
        await world.services.devices.add(world.admin, world.address, " CRM ")
    await world.services.devices.revoke(world.admin, world.address, "CRM")
    await world.services.devices.add(world.admin, world.address, "CRM")
    await world.services.devices.add(world.admin, world.address, "Old CRM")
    with pytest.raises(AlreadyExists):
        await world.services.devices.rename(world.admin, world.address, "Old CRM", "CRM")
    renamed = await world.services.devices.rename(world.admin, world.address, "Old CRM", "CRM 2")
    assert renamed.name == "CRM 2"


async def test_a_user_member_cannot_manage_devices_but_revokes_their_own(world: World) -> None:
    services = world.services
    await services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(services, world.user)
    mine = await services.devices.add(world.admin, world.address, "My phone", world.user.label)
    other = await services.devices.add(world.admin, world.address, "Website form")
    with pytest.raises(NotAllowed, match="administrators and legal representatives"):
        await services.devices.add(world.user, world.address, "Sneaky")
    with pytest.raises(NotAllowed):
        await services.devices.change_password(world.user, world.address, "My phone")
    assert [d.name for d in await services.devices.list(world.user, world.address)] == ["My phone"]
    with pytest.raises(NotFound):
        await services.devices.get(world.user, world.address, str(other.device.id))
    with pytest.raises(NotAllowed):
        await services.devices.revoke(world.user, world.address, str(other.device.id))
    revoked = await services.devices.revoke(world.user, world.address, str(mine.device.id))
    assert revoked.status == "revoked"


async def test_no_device_of_another_organization_is_reachable_by_id(world: World) -> None:
    outsider = await other_org_admin(world)
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


async def test_device_options_are_validated(world: World) -> None:
    devices, now = world.services.devices, world.services.clock.now()
    with pytest.raises(InvalidInput, match="protocols"):
        await devices.add(
            world.admin, world.address, "A", options=DeviceOptions(protocols=("ftp",))
        )
    with pytest.raises(InvalidInput, match="networks"):
        await devices.add(
            world.admin, world.address, "A", options=DeviceOptions(networks=("10.0.0.300/8",))
        )
    with pytest.raises(InvalidInput, match="past"):
        await devices.add(world.admin, world.address, "A", options=DeviceOptions(expires_at=now))
    new = await devices.add(
        world.admin,
        world.address,
        "Intern",
        options=DeviceOptions(now + timedelta(days=7), ("smtp", "imap"), ("192.0.2.7/24",)),
    )
    assert new.device.allowed_protocols == ["imap", "smtp"]
    assert new.device.allowed_networks == ["192.0.2.0/24"]
    world.services.clock.advance(timedelta(days=8))  # type: ignore[attr-defined]
    assert (await devices.get(world.admin, world.address, "Intern")).status == "expired"


async def test_an_address_holds_a_bounded_number_of_chosen_passwords(world: World) -> None:
    for n in range(MAX_CHOSEN_PER_ADDRESS):
        await world.services.devices.add(
            world.admin, world.address, f"D{n}", password=CHOSEN + str(n)
        )
    with pytest.raises(Conflict, match="at most"):
        await world.services.devices.add(world.admin, world.address, "One more", password=CHOSEN)
    await world.services.devices.add(world.admin, world.address, "Generated is fine")


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
