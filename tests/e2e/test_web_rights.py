"""In the browser: a `user` member and a member of another organization, the sudo
window, and a form replayed without its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailward.core.access.actors import Actor
from tests.e2e.web_browser import enrol_and_sign_in, screenshot
from tests.e2e.web_harness import LiveMailward, live_mailward
from tests.support import ADMIN_PASSWORD

pytestmark = pytest.mark.slow


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


def info_address_id(live: LiveMailward) -> int:
    world = live.world
    assert world is not None
    return live.run(world.services.addresses.get(world.admin, world.address)).id


def test_a_user_member_is_told_who_can_add_a_device(live: LiveMailward, page: Page) -> None:
    world = live.world
    assert world is not None
    aid = info_address_id(live)
    live.run(world.services.addresses.add_user(world.admin, aid, "user@corp.test"))
    enrol_and_sign_in(page, live, "user@corp.test")
    page.get_by_role("link", name="See the invitations").click()
    page.get_by_role("button", name=re.compile("^Accept: info@example.test")).click()
    page.goto(f"{live.url}/addresses/{aid}/devices")
    page.get_by_role("link", name="Add a device").click()
    explanation = page.get_by_role("region", name=re.compile("You cannot add devices"))
    expect(explanation).to_contain_text("Lena Legal <legal@corp.test>")
    expect(explanation).to_contain_text("Adam Admin <admin@corp.test>")
    screenshot(page, "explanation.png")


def test_another_organization_cannot_open_the_address_by_editing_the_url(
    live: LiveMailward, page: Page
) -> None:
    services, op = live.services, Actor.operator()
    live.run(services.accounts.create(op, "eve@other.test", ADMIN_PASSWORD, "Eve"))
    live.run(services.organizations.create(op, "Other", legal_representative="eve@other.test"))
    aid = info_address_id(live)
    enrol_and_sign_in(page, live, "eve@other.test")
    response = page.goto(f"{live.url}/addresses/{aid}/devices")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="This page does not exist")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("info@example.test")


def test_the_password_is_asked_again_after_the_sudo_window(live: LiveMailward, page: Page) -> None:
    aid = info_address_id(live)
    enrol_and_sign_in(page, live, "admin@corp.test")
    live.clock.advance(timedelta(minutes=live.services.settings.sudo_minutes + 1))
    page.goto(f"{live.url}/addresses/{aid}/devices")
    page.get_by_role("link", name="Add a device").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Add a device")).to_be_visible()


def test_a_form_posted_without_its_csrf_token_is_rejected(live: LiveMailward, page: Page) -> None:
    aid = info_address_id(live)
    enrol_and_sign_in(page, live, "admin@corp.test")
    response = page.request.post(
        f"{live.url}/addresses/{aid}/users", form={"email": "user@corp.test"}
    )
    assert response.status == 403
    assert "Nothing was changed" in response.text()
    page.goto(f"{live.url}/addresses/{aid}/users")
    expect(page.get_by_text("No user yet.")).to_be_visible()
