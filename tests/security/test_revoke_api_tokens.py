"""'Sign out everywhere' is the button pressed after a suspected compromise: it ends
every web session of the account and revokes the account's personal API tokens too (a
token made by whoever held a session must not outlive it); the page says so. Before, the
tokens kept working."""

from __future__ import annotations

from sqlalchemy import select

from mailward.clock import FrozenClock
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.core.signin.websessions import WebSessionService
from mailward.db.models import AuditEvent
from tests.integration.test_web_security import signed_in
from tests.support import World


async def test_signing_out_everywhere_revokes_the_accounts_api_tokens_and_no_others(
    world: World, clock: FrozenClock
) -> None:
    tokens = ApiTokenService(world.services.deps)
    mine = await tokens.create(world.admin, world.org_id, "Hosting panel")
    theirs = await tokens.create(world.legal, world.org_id, "Billing")
    admin = await signed_in(world, clock, world.admin)
    account = await admin.get("/account")
    assert "revokes all your personal API tokens" in account.text
    mine_bearer = {"Authorization": f"Bearer {mine.secret}"}
    assert (await admin.client.get("/api/v1/organizations", headers=mine_bearer)).is_success

    ended = await admin.post_form("/account", "/account/sessions/end-all", {})

    assert ended.headers["location"] == "/login"
    refused = await admin.client.get("/api/v1/organizations", headers=mine_bearer)
    assert refused.status_code == 401
    theirs_bearer = {"Authorization": f"Bearer {theirs.secret}"}
    assert (await admin.client.get("/api/v1/organizations", headers=theirs_bearer)).is_success
    [listed] = await tokens.list(world.admin)
    assert listed.status == "revoked"
    async with world.services.db.unit_of_work() as uow:
        audited = list(
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "api_token:revoke")
            )
        )
    assert [(a.actor, a.details["why"]) for a in audited] == [
        ("admin@corp.test", "signed out everywhere")
    ]
    await admin.client.aclose()


async def test_signing_out_everywhere_twice_or_without_tokens_is_harmless(world: World) -> None:
    assert world.user.account_id is not None
    service = WebSessionService(world.services.deps, sudo_minutes=15)
    assert await service.end_all(world.user.account_id) == 0
    assert await service.end_all(world.user.account_id) == 0
    assert await service.end_all(999_999) == 0
