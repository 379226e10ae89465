"""Rights and consent: who may do what, and offers that give nothing until accepted."""

from __future__ import annotations

import pytest

from mailward.core.access.actors import Actor
from mailward.core.access.grants import GrantService
from mailward.core.access.rights import RightsService
from mailward.errors import Conflict, InvalidInput, NotAllowed, NotFound
from tests.support import accept_offers
from tests.unit.fakes import PASSWORD, Core

DAVE = "dave@partner.example"


async def dave(core: Core) -> Actor:
    view = await core.accounts.create(Actor.operator(), DAVE, PASSWORD, "Dave")
    return Actor(view.id, DAVE, "203.0.113.4")


async def test_an_administrators_offer_gives_no_role_until_it_is_accepted(core: Core) -> None:
    person = await dave(core)
    offered = await core.organizations.add_member(core.admin, core.org_id, DAVE, "administrator")
    assert offered.state == "pending"
    with pytest.raises(NotFound):
        await core.organizations.get(person, core.org_id)
    grants = GrantService(core.deps)
    [offer] = await grants.pending_for(person)
    await grants.accept(person, offer.id)
    assert (await core.organizations.get(person, core.org_id)).role == "administrator"


async def test_nobody_else_answers_an_offer_for_its_person(core: Core) -> None:
    person = await dave(core)
    await core.organizations.add_member(core.admin, core.org_id, DAVE, "administrator")
    [offer] = await GrantService(core.deps).pending_for(person)
    with pytest.raises(NotFound):
        await GrantService(core.deps).accept(core.admin, offer.id)


async def test_a_declined_offer_cannot_be_accepted_later(core: Core) -> None:
    person, grants = await dave(core), GrantService(core.deps)
    await core.organizations.add_member(core.admin, core.org_id, DAVE, "user")
    declined = await grants.decline(person, (await grants.pending_for(person))[0].id)
    with pytest.raises(NotFound):
        await grants.accept(person, declined.id)
    assert await core.organizations.list_for(person) == []


async def test_a_withdrawn_address_offer_leaves_nothing_pending(core: Core) -> None:
    person = await dave(core)
    await core.addresses.add_user(core.admin, core.address, DAVE)
    await core.addresses.remove_user(core.admin, core.address, DAVE)
    assert await GrantService(core.deps).pending_for(person) == []
    assert await core.addresses.users(core.admin, core.address) == []


async def test_the_operators_grants_take_effect_at_once(core: Core) -> None:
    person = await dave(core)
    await core.organizations.add_member(Actor.operator(), core.org_id, DAVE, "user")
    assert (await core.organizations.get(person, core.org_id)).role == "user"
    assert await GrantService(core.deps).pending_for(person) == []


async def test_a_user_on_the_address_only_after_accepting_may_get_a_device(core: Core) -> None:
    await core.addresses.add_user(core.admin, core.address, core.user.label)
    with pytest.raises(InvalidInput, match="not a user of this address"):
        await core.devices.add(core.admin, core.address, "Phone", core.user.label)
    await accept_offers(core, core.user)
    new = await core.devices.add(core.admin, core.address, "Phone", core.user.label)
    assert new.device.user_email == core.user.label


async def test_a_user_member_manages_no_devices_but_revokes_their_own(core: Core) -> None:
    await core.addresses.add_user(core.admin, core.address, core.user.label)
    await accept_offers(core, core.user)
    mine = await core.devices.add(core.admin, core.address, "My phone", core.user.label)
    other = await core.devices.add(core.admin, core.address, "Website form")
    with pytest.raises(NotAllowed, match="administrators and legal representatives"):
        await core.devices.add(core.user, core.address, "Sneaky")
    with pytest.raises(NotAllowed):
        await core.devices.revoke(core.user, core.address, str(other.device.id))
    revoked = await core.devices.revoke(core.user, core.address, str(mine.device.id))
    assert revoked.status == "revoked"


async def test_rights_say_who_can_to_a_member_and_nothing_to_an_outsider(core: Core) -> None:
    rights = RightsService(core.deps)
    await rights.require_manager(core.admin, core.org_id, "add devices")
    with pytest.raises(NotAllowed, match="administrators and legal representatives"):
        await rights.require_manager(core.user, core.org_id, "add devices")
    with pytest.raises(NotFound):
        await rights.require_manager(await dave(core), core.org_id, "add devices")


async def test_the_last_manager_can_be_neither_removed_nor_demoted(core: Core) -> None:
    await core.organizations.remove_member(core.legal, core.org_id, "admin@corp.test")
    with pytest.raises(Conflict, match="must keep at least one"):
        await core.organizations.remove_member(core.legal, core.org_id, "legal@corp.test")
    with pytest.raises(Conflict, match="must keep at least one"):
        await core.organizations.set_role(core.legal, core.org_id, "legal@corp.test", "user")


async def test_an_api_token_confined_to_another_organization_sees_none_of_this_one(
    core: Core,
) -> None:
    confined = Actor(core.admin.account_id, core.admin.label, organization_id=core.org_id + 1)
    with pytest.raises(NotFound):
        await core.devices.list(confined, core.address)
