"""Devices: adding, replacing and revoking passwords, by the rules of the core."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailward.core.devices.service import MAX_CHOSEN_PER_ADDRESS, DeviceOptions
from mailward.core.passwords import lookup_hash, suggest_password
from mailward.db.models import Device
from mailward.errors import AlreadyExists, Conflict, InvalidInput, NotFound, WeakPassword
from tests.unit.fakes import Core

CHOSEN = "vivid-otter-clamps-17-brass-kettles"


async def test_a_new_device_gets_a_generated_password_found_by_its_keyed_hash(core: Core) -> None:
    new = await core.devices.add(core.admin, core.address, "Website form")
    assert new.device.password_kind == "generated" and len(new.password) == 20
    async with core.deps.db.unit_of_work() as uow:
        stored = await uow.session.get(Device, new.device.id)
    assert stored is not None and stored.password_hash is None
    assert stored.password_lookup == lookup_hash(core.deps.keys, stored.address_id, new.password)


async def test_a_device_view_never_carries_the_password(core: Core) -> None:
    new = await core.devices.add(core.admin, core.address, "Phone")
    listed = await core.devices.get(core.admin, core.address, "Phone")
    assert new.password not in repr(listed)


async def test_the_servers_unchanged_suggestion_counts_as_generated(core: Core) -> None:
    suggestion = suggest_password(core.deps.keys)
    new = await core.devices.add(
        core.admin, core.address, "Laptop", password=suggestion.password,
        suggestion_proof=suggestion.proof,
    )  # fmt: skip
    assert new.device.password_kind == "generated"


async def test_an_edited_suggestion_counts_as_chosen(core: Core) -> None:
    suggestion = suggest_password(core.deps.keys)
    new = await core.devices.add(
        core.admin, core.address, "Tablet", password=suggestion.password + "Zz9",
        suggestion_proof=suggestion.proof,
    )  # fmt: skip
    assert new.device.password_kind == "chosen"


async def test_a_suggestion_is_used_by_one_device_only(core: Core) -> None:
    suggestion = suggest_password(core.deps.keys)
    await core.devices.add(
        core.admin, core.address, "One", password=suggestion.password,
        suggestion_proof=suggestion.proof,
    )  # fmt: skip
    with pytest.raises(Conflict, match="already used for a device"):
        await core.devices.add(
            core.admin, core.address, "Two", password=suggestion.password,
            suggestion_proof=suggestion.proof,
        )  # fmt: skip


async def test_a_weak_chosen_password_is_refused_and_creates_nothing(core: Core) -> None:
    with pytest.raises(WeakPassword, match="at least 16"):
        await core.devices.add(core.admin, core.address, "CRM", password="short")
    assert await core.devices.list(core.admin, core.address) == []


async def test_an_address_holds_at_most_five_chosen_passwords_but_any_generated(
    core: Core,
) -> None:
    for n in range(MAX_CHOSEN_PER_ADDRESS):
        await core.devices.add(core.admin, core.address, f"D{n}", password=CHOSEN + str(n))
    with pytest.raises(Conflict, match="at most"):
        await core.devices.add(core.admin, core.address, "One more", password=CHOSEN)
    await core.devices.add(core.admin, core.address, "Generated is fine")


async def test_names_are_unique_among_live_devices_only(core: Core) -> None:
    await core.devices.add(core.admin, core.address, "CRM")
    with pytest.raises(AlreadyExists):
        await core.devices.add(core.admin, core.address, " CRM ")
    await core.devices.revoke(core.admin, core.address, "CRM")
    again = await core.devices.add(core.admin, core.address, "CRM")
    assert again.device.status == "active"


async def test_a_rename_to_a_live_name_is_refused(core: Core) -> None:
    await core.devices.add(core.admin, core.address, "CRM")
    await core.devices.add(core.admin, core.address, "Old CRM")
    with pytest.raises(AlreadyExists):
        await core.devices.rename(core.admin, core.address, "Old CRM", "CRM")
    assert (await core.devices.rename(core.admin, core.address, "Old CRM", "CRM 2")).name == "CRM 2"


async def test_a_new_password_replaces_the_old_one_and_is_announced(core: Core) -> None:
    new = await core.devices.add(core.admin, core.address, "Outlook")
    core.clock.advance(timedelta(minutes=5))
    changed = await core.devices.change_password(core.legal, core.address, "Outlook")
    assert changed.password != new.password
    assert changed.device.password_changed_at > new.device.created_at
    assert [n.kind for n in core.events.notices] == ["add", "password"]
    assert core.events.notices[-1].ends_sessions


async def test_revoking_one_device_leaves_the_others_and_twice_is_harmless(core: Core) -> None:
    first = await core.devices.add(core.admin, core.address, "Intern")
    second = await core.devices.add(core.admin, core.address, "Website form")
    await core.devices.revoke(core.admin, core.address, "Intern")
    again = await core.devices.revoke(core.admin, core.address, str(first.device.id))
    assert again.status == "revoked"
    assert [d.id for d in await core.devices.list(core.admin, core.address)] == [second.device.id]
    everything = await core.devices.list(core.admin, core.address, include_revoked=True)
    assert len(everything) == 2


async def test_a_revoked_device_gets_no_new_password(core: Core) -> None:
    new = await core.devices.add(core.admin, core.address, "Intern")
    await core.devices.revoke(core.admin, core.address, "Intern")
    with pytest.raises(NotFound):  # by name: only live devices have one
        await core.devices.change_password(core.admin, core.address, "Intern")
    with pytest.raises(Conflict):
        await core.devices.change_password(core.admin, core.address, str(new.device.id))


async def test_device_options_refuse_unknown_protocols_bad_networks_and_past_dates(
    core: Core,
) -> None:
    now = core.clock.now()
    for options, word in (
        (DeviceOptions(protocols=("ftp",)), "protocols"),
        (DeviceOptions(networks=("10.0.0.300/8",)), "networks"),
        (DeviceOptions(expires_at=now), "past"),
    ):
        with pytest.raises(InvalidInput, match=word):
            await core.devices.add(core.admin, core.address, "A", options=options)


async def test_options_are_normalized_and_a_device_expires_with_time(core: Core) -> None:
    now = core.clock.now()
    options = DeviceOptions(now + timedelta(days=7), ("smtp", "imap"), ("192.0.2.7/24",))
    new = await core.devices.add(core.admin, core.address, "Intern", options=options)
    assert new.device.allowed_protocols == ["imap", "smtp"]
    assert new.device.allowed_networks == ["192.0.2.0/24"]
    core.clock.advance(timedelta(days=8))
    assert (await core.devices.get(core.admin, core.address, "Intern")).status == "expired"
