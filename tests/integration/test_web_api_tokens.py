"""API tokens made in the manager: shown once, usable on /api/v1, revocable."""

from __future__ import annotations

import re

from mailward.clock import FrozenClock
from tests.integration.test_web_security import signed_in
from tests.support import World

PAGE = "/account/api-tokens"


async def test_a_token_made_in_the_manager_is_shown_once_works_and_is_revoked(
    world: World, clock: FrozenClock
) -> None:
    admin = await signed_in(world, clock, world.admin)
    created = await admin.post_form(
        PAGE, PAGE, {"name": "Hosting panel", "organization": str(world.org_id), "expires": ""}
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    found = re.search(r'value="(mwt_[^"]+)"', created.text)
    assert found, created.text
    token = found.group(1)
    bearer = {"Authorization": f"Bearer {token}"}
    organizations = await admin.client.get("/api/v1/organizations", headers=bearer)
    assert organizations.status_code == 200
    assert [o["name"] for o in organizations.json()] == ["Corp"]
    listing = await admin.get(PAGE)
    assert "Hosting panel" in listing.text and token not in listing.text
    token_id = re.search(r"/account/api-tokens/(\d+)/revoke", listing.text)
    assert token_id
    action = f"{PAGE}/{token_id.group(1)}/revoke"
    assert (await admin.post_form(PAGE, action, {})).status_code == 303
    assert (await admin.client.get("/api/v1/organizations", headers=bearer)).status_code == 401
    await admin.client.aclose()


async def test_a_token_needs_an_organization_and_a_name(world: World, clock: FrozenClock) -> None:
    admin = await signed_in(world, clock, world.admin)
    refused = await admin.post_form(PAGE, PAGE, {"name": "", "organization": str(world.org_id)})
    assert refused.status_code == 400 and "mwt_" not in refused.text
    await admin.client.aclose()
