"""Consent in a real browser: an administrator offers a person a role and the use of an
address; nothing takes effect until that person, signed in, answers on the page of
invitations waiting for them (screenshot for docs/WEB.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailward.core.access.actors import Actor
from mailward.errors import NotFound
from tests.e2e.web_browser import enrol_and_sign_in, screenshot
from tests.e2e.web_harness import LiveMailward, live_mailward
from tests.support import ADMIN_PASSWORD

pytestmark = pytest.mark.slow

NINA = "nina@partner.example"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


def test_a_person_accepts_one_offer_and_declines_another(page: Page, live: LiveMailward) -> None:
    services, world = live.services, live.world
    assert world is not None
    nina = live.run(services.accounts.create(Actor.operator(), NINA, ADMIN_PASSWORD, "Nina"))
    me = Actor(nina.id, NINA)
    live.run(services.organizations.add_member(world.admin, world.org_id, NINA, "administrator"))
    live.run(services.addresses.add_user(world.admin, world.address, NINA))
    with pytest.raises(NotFound):
        live.run(services.organizations.get(me, world.org_id))
    enrol_and_sign_in(page, live, NINA)
    expect(page.locator("#pending-panel")).to_contain_text("2 invitations wait for your answer")
    page.get_by_role("link", name="See the invitations").click()
    expect(page.get_by_role("heading", name="Administrator of Corp")).to_be_visible()
    expect(page.get_by_role("heading", name="Use info@example.test")).to_be_visible()
    screenshot(page, "pending-invitations.png")
    page.get_by_role("button", name=re.compile("^Decline: info@example.test")).click()
    expect(page.get_by_role("status")).to_contain_text("Declined: the use of info@example.test")
    page.get_by_role("button", name=re.compile("^Accept: Administrator of Corp")).click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("link", name="Corp", exact=True)).to_be_visible()
    assert live.run(services.organizations.get(me, world.org_id)).role == "administrator"
    users = live.run(services.addresses.users(world.admin, world.address))
    assert NINA not in [u.email for u in users]
