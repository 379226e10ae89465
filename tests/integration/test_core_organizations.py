import pytest

from mailward.core.access.actors import Actor
from mailward.errors import AlreadyExists, Conflict, InvalidInput, NotAllowed, NotFound
from tests.support import ADMIN_PASSWORD, World


async def other_org_admin(world: World) -> Actor:
    services, op = world.services, Actor.operator()
    other = await services.accounts.create(op, "boss@other.test", ADMIN_PASSWORD, "Otto Other")
    await services.organizations.create(op, "Other", legal_representative=other.email)
    await services.mail_services.create(
        op, (await services.organizations.resolve(op, "Other")).id, "other.test"
    )
    await services.addresses.create_by_email(op, "sales@other.test")
    return Actor(other.id, other.email)


async def test_members_are_listed_with_their_roles(world: World) -> None:
    members = await world.services.organizations.members(world.admin, world.org_id)
    assert {(m.email, m.role) for m in members} == {
        ("legal@corp.test", "legal_representative"),
        ("admin@corp.test", "administrator"),
        ("user@corp.test", "user"),
    }


async def test_a_user_member_is_told_who_can_add_members(world: World) -> None:
    await world.services.accounts.create(Actor.operator(), "new@corp.test", ADMIN_PASSWORD)
    with pytest.raises(NotAllowed) as refused:
        await world.services.organizations.add_member(
            world.user, world.org_id, "new@corp.test", "user"
        )
    assert "Adam Admin <admin@corp.test>" in refused.value.who_can
    assert "Lena Legal <legal@corp.test>" in refused.value.who_can
    assert "ask one of them" in str(refused.value)


async def test_another_organization_does_not_exist_for_an_outsider(world: World) -> None:
    outsider = await other_org_admin(world)
    with pytest.raises(NotFound):
        await world.services.organizations.get(outsider, world.org_id)
    with pytest.raises(NotFound):
        await world.services.organizations.members(outsider, world.org_id)
    with pytest.raises(NotFound):
        await world.services.mail_services.create(outsider, world.org_id, "evil.test")
    names = [o.name for o in await world.services.organizations.list_for(outsider)]
    assert names == ["Other"]


async def test_roles_are_validated_and_changed(world: World) -> None:
    services = world.services
    with pytest.raises(InvalidInput, match="not a role"):
        await services.organizations.set_role(world.admin, world.org_id, "user@corp.test", "boss")
    await services.organizations.set_role(
        world.admin, world.org_id, "user@corp.test", "administrator"
    )
    roles = {
        m.email: m.role for m in await services.organizations.members(world.admin, world.org_id)
    }
    assert roles["user@corp.test"] == "administrator"


async def test_the_last_manager_cannot_be_removed_or_demoted(world: World) -> None:
    services, op = world.services, Actor.operator()
    await services.organizations.remove_member(op, world.org_id, "admin@corp.test")
    with pytest.raises(Conflict):
        await services.organizations.remove_member(op, world.org_id, "legal@corp.test")
    with pytest.raises(Conflict):
        await services.organizations.set_role(op, world.org_id, "legal@corp.test", "user")


async def test_duplicates_are_refused(world: World) -> None:
    services, op = world.services, Actor.operator()
    with pytest.raises(AlreadyExists):
        await services.organizations.create(op, "Corp", None)
    with pytest.raises(AlreadyExists):
        await services.organizations.add_member(op, world.org_id, "user@corp.test", "user")
    with pytest.raises(AlreadyExists):
        await services.accounts.create(op, "ADMIN@corp.test", ADMIN_PASSWORD)
    # An unknown person gets an invited account and the role (the operator is trusted):
    # nobody learns whether an account existed.
    ghost = await services.organizations.add_member(op, world.org_id, "ghost@corp.test", "user")
    assert (ghost.email, ghost.state) == ("ghost@corp.test", "accepted")


async def test_account_passwords_are_checked_and_verified(world: World) -> None:
    services, op = world.services, Actor.operator()
    with pytest.raises(InvalidInput):
        await services.accounts.create(op, "weak@corp.test", "password123")
    assert await services.accounts.verify_password("admin@corp.test", ADMIN_PASSWORD)
    assert await services.accounts.verify_password("admin@corp.test", "wrong") is None
    assert await services.accounts.verify_password("nobody@corp.test", ADMIN_PASSWORD) is None
    assert await services.accounts.verify_password("not an email", ADMIN_PASSWORD) is None
