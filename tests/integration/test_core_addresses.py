import pytest

from mailward.core.access.actors import Actor
from mailward.errors import AlreadyExists, InvalidInput, NotAllowed, NotFound
from tests.support import World, accept_offers, other_org_admin


async def test_mail_services_normalize_their_domain(world: World) -> None:
    view = await world.services.mail_services.create(world.admin, world.org_id, "Exämple.CH")
    assert view.domain == "xn--exmple-cua.ch"
    assert view.display_domain == "exämple.ch"
    with pytest.raises(AlreadyExists):
        await world.services.mail_services.create(world.legal, world.org_id, "EXÄMPLE.ch")
    with pytest.raises(InvalidInput):
        await world.services.mail_services.create(world.legal, world.org_id, "not a domain")
    with pytest.raises(NotAllowed):
        await world.services.mail_services.create(world.user, world.org_id, "user.test")


async def test_addresses_are_unique_per_domain_and_listed_with_search(world: World) -> None:
    services = world.services
    for local in ["sales", "support", "Team.Lead"]:
        await services.addresses.create(world.admin, world.domain, local)
    with pytest.raises(AlreadyExists):
        await services.addresses.create_by_email(world.admin, "SALES@example.test")
    with pytest.raises(InvalidInput):
        await services.addresses.create(world.admin, world.domain, "bad..name")
    page = await services.addresses.page(world.admin, world.domain, per_page=2)
    assert page.total == 4 and [a.email for a in page.items] == [
        "info@example.test",
        "sales@example.test",
    ]
    found = await services.addresses.page(world.admin, world.domain, search="SUP")
    assert [a.email for a in found.items] == ["support@example.test"]


async def test_a_user_member_sees_only_the_addresses_they_use(world: World) -> None:
    services = world.services
    await services.addresses.create(world.admin, world.domain, "sales")
    assert (await services.addresses.page(world.user, world.domain)).total == 0
    with pytest.raises(NotFound):
        await services.addresses.get(world.user, "sales@example.test")
    await services.addresses.add_user(world.admin, world.address, world.user.label)
    assert (await services.addresses.page(world.user, world.domain)).total == 0  # pending
    await accept_offers(services, world.user)
    page = await services.addresses.page(world.user, world.domain)
    assert [a.email for a in page.items] == [world.address]
    with pytest.raises(NotAllowed):
        await services.addresses.create(world.user, world.domain, "mine")


async def test_adding_an_unknown_person_as_user_creates_an_invited_account(world: World) -> None:
    user = await world.services.addresses.add_user(world.admin, world.address, "New@Person.test")
    assert (user.email, user.display_name, user.state) == ("new@person.test", "", "pending")
    assert await world.services.accounts.verify_password("new@person.test", "") is None
    with pytest.raises(AlreadyExists):
        await world.services.addresses.add_user(world.admin, world.address, "new@person.test")
    listed = await world.services.addresses.users(world.admin, world.address)
    assert [(u.email, u.state) for u in listed] == [("new@person.test", "pending")]
    await world.services.addresses.remove_user(world.admin, world.address, "new@person.test")
    assert await world.services.addresses.users(world.admin, world.address) == []


async def test_another_organizations_addresses_are_unreachable_by_any_key(world: World) -> None:
    outsider = await other_org_admin(world.services)
    own = await world.services.addresses.get(Actor.operator(), world.address)
    for key in (own.id, str(own.id), world.address):
        with pytest.raises(NotFound):
            await world.services.addresses.get(outsider, key)
        with pytest.raises(NotFound):
            await world.services.addresses.add_user(outsider, key, "x@y.test")
    with pytest.raises(NotFound):
        await world.services.addresses.page(outsider, world.domain)
    with pytest.raises(NotFound):
        await world.services.addresses.get(world.admin, 999999)
