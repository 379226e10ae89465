"""Organizations: members, roles and who may change them; accounts' passwords."""

from __future__ import annotations

import pytest

from mailward.core.access.actors import Actor
from mailward.errors import InvalidInput, NotAllowed, NotFound
from tests.support import ADMIN_PASSWORD, other_org_admin
from tests.unit.fakes import Core


async def test_members_are_listed_with_their_roles(core: Core) -> None:
    members = await core.organizations.members(core.admin, core.org_id)
    assert {(m.email, m.role) for m in members} == {
        ("legal@corp.test", "legal_representative"),
        ("admin@corp.test", "administrator"),
        ("user@corp.test", "user"),
    }


async def test_a_user_member_is_told_who_can_add_members(core: Core) -> None:
    await core.accounts.create(Actor.operator(), "new@corp.test", ADMIN_PASSWORD)
    with pytest.raises(NotAllowed) as refused:
        await core.organizations.add_member(core.user, core.org_id, "new@corp.test", "user")
    assert "Adam Admin <admin@corp.test>" in refused.value.who_can
    assert "Lena Legal <legal@corp.test>" in refused.value.who_can
    assert "ask one of them" in str(refused.value)


async def test_another_organization_does_not_exist_for_an_outsider(core: Core) -> None:
    outsider = await other_org_admin(core)
    with pytest.raises(NotFound):
        await core.organizations.get(outsider, core.org_id)
    with pytest.raises(NotFound):
        await core.organizations.members(outsider, core.org_id)
    with pytest.raises(NotFound):
        await core.mail_services.create(outsider, core.org_id, "evil.test")
    names = [o.name for o in await core.organizations.list_for(outsider)]
    assert names == ["Other"]


async def test_roles_are_validated_and_changed(core: Core) -> None:
    services = core
    with pytest.raises(InvalidInput, match="not a role"):
        await services.organizations.set_role(core.admin, core.org_id, "user@corp.test", "boss")
    await services.organizations.set_role(
        core.admin, core.org_id, "user@corp.test", "administrator"
    )
    roles = {m.email: m.role for m in await services.organizations.members(core.admin, core.org_id)}
    assert roles["user@corp.test"] == "administrator"


async def test_account_passwords_are_checked_and_verified(core: Core) -> None:
    services, op = core, Actor.operator()
    with pytest.raises(InvalidInput):
        await services.accounts.create(op, "weak@corp.test", "password123")
    assert await services.accounts.verify_password("admin@corp.test", ADMIN_PASSWORD)
    assert await services.accounts.verify_password("admin@corp.test", "wrong") is None
    assert await services.accounts.verify_password("nobody@corp.test", ADMIN_PASSWORD) is None
    assert await services.accounts.verify_password("not an email", ADMIN_PASSWORD) is None
