"""Personal API tokens, over fakes: shown once and stored as a keyed hash, acting as
their person in one organization, and refused once revoked, expired or departed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import TOKEN_PREFIX, ApiTokenService, InvalidApiToken
from mailward.db.models import ApiToken
from mailward.errors import NotFound
from tests.unit.fakes import Core


@pytest.fixture
def tokens(core: Core) -> ApiTokenService:
    return ApiTokenService(core.deps)


async def test_a_token_is_prefixed_random_and_stored_only_as_a_keyed_hash(
    core: Core, tokens: ApiTokenService
) -> None:
    issued = await tokens.create(core.admin, core.org_id, "panel")
    assert issued.secret.startswith(TOKEN_PREFIX) and len(issued.secret) >= len("mwt_") + 43
    assert issued.secret not in repr(issued)
    async with core.deps.db.unit_of_work() as uow:
        row = (await uow.session.scalars(select(ApiToken))).one()
        stored = [str(v) for v in vars(row).values()]
    assert not any(issued.secret in v or issued.secret[4:] in v for v in stored)
    assert row.prefix == issued.secret[:10] and row.organization_id == core.org_id


async def test_revoked_expired_unknown_and_departed_tokens_are_refused(
    core: Core, tokens: ApiTokenService
) -> None:
    kept = await tokens.create(core.admin, core.org_id, "kept")
    grant = await tokens.authenticate(kept.secret)
    assert (grant.account_id, grant.organization_id) == (core.admin.account_id, core.org_id)
    short = await tokens.create(core.admin, core.org_id, "short", core.clock.now() + timedelta(1))
    core.clock.advance(timedelta(days=2))
    revoked = await tokens.create(core.admin, core.org_id, "revoked")
    await tokens.revoke(core.admin, revoked.token.id)
    await core.organizations.remove_member(core.legal, core.org_id, "admin@corp.test")
    for secret in (short.secret, revoked.secret, kept.secret, "mwt_nope", "Bearer x"):
        with pytest.raises(InvalidApiToken):
            await tokens.authenticate(secret)


async def test_use_is_recorded_at_most_once_a_minute(core: Core, tokens: ApiTokenService) -> None:
    issued = await tokens.create(core.admin, core.org_id, "panel")
    await tokens.authenticate(issued.secret)
    first = core.clock.now()
    core.clock.advance(timedelta(seconds=20))
    await tokens.authenticate(issued.secret)
    [view] = await tokens.list(core.admin)
    assert view.last_used_at == first


async def test_a_token_is_made_only_for_an_organization_of_its_person(
    core: Core, tokens: ApiTokenService
) -> None:
    op = Actor.operator()  # an organization the administrator is not in
    other = await core.organizations.create(op, "Other", legal_representative="legal@corp.test")
    with pytest.raises(NotFound):
        await tokens.create(core.admin, other.id, "panel")


async def test_only_its_person_revokes_a_token_and_twice_is_no_error(
    core: Core, tokens: ApiTokenService
) -> None:
    issued = await tokens.create(core.admin, core.org_id, "panel")
    with pytest.raises(NotFound):  # the legal representative of the same organization
        await tokens.revoke(core.legal, issued.token.id)
    assert (await tokens.revoke(core.admin, issued.token.id)).status == "revoked"
    assert (await tokens.revoke(core.admin, issued.token.id)).status == "revoked"
