"""The device's login history, the organization's device policy, the notice emails and
their links, in Chromium (issue 16). Screenshots: device-history.png,
device-policy.png, notice-unused.png, notice-digest.png, notice-new-network.png,
device-keep.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailward.auth.runtime import close_authenticator
from mailward.core.access.actors import Actor
from mailward.core.devices.newnetworks import NewNetworkNotices
from tests.e2e.web_browser import (
    assert_fits_the_screen,
    enrol_and_sign_in,
    fresh_code,
    screenshot,
)
from tests.e2e.web_harness import LiveMailward, live_mailward
from tests.mailbox import CapturingMailer
from tests.support import ADMIN_PASSWORD

pytestmark = pytest.mark.slow
ADDRESS = "info@example.test"
HEADERS_STYLE = "font:14px sans-serif;border-bottom:1px solid #ccc;padding:8px"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


async def logins(live: LiveMailward, password: str, uses: list[tuple[str, str, str]]) -> None:
    auth = live.services.build_authenticator()
    try:
        for ip, protocol, client in uses:
            await auth.authenticate(ADDRESS, password, protocol, ip, client)
            await auth.last_used.flush()
            live.clock.advance(timedelta(minutes=7))
    finally:
        await close_authenticator(auth)


def show_email(page: Page, message: EmailMessage, name: str) -> None:
    """The message as a mail program shows it: headers, then its HTML part."""
    html = message.get_body(("html",))
    assert html is not None
    head = "".join(
        f"<div><b>{h}:</b> {message[h]}</div>" for h in ("From", "To", "Subject", "Date")
    )
    body = str(html.get_content())
    page.set_content(f'<div style="{HEADERS_STYLE}">{head}</div>{body}')
    screenshot(page, name)


def link_in(message: EmailMessage, part: str) -> str:
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return next(w for w in text.split() if part in w)


def test_history_policy_notices_and_their_links(live: LiveMailward, page: Page) -> None:
    secret = enrol_and_sign_in(page, live, "admin@corp.test")
    new = live.run(live.services.devices.add(Actor.operator(), ADDRESS, "Phone"))
    live.run(logins(live, new.password, [
        ("198.51.100.7", "imap", "Thunderbird 128.3"), ("198.51.100.7", "smtp", "ursula-laptop"),
        ("203.0.113.45", "imap", "iOS Mail"),
    ]))  # fmt: skip
    page.goto(f"{live.url}/addresses/1/devices")
    page.get_by_role("link", name="Login history").first.click()
    expect(page.get_by_role("heading", name="Login history of “Phone”")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("203.0.113.45")
    expect(rows.first).to_contain_text("iOS Mail")
    assert_fits_the_screen(page)
    screenshot(page, "device-history.png")

    page.goto(f"{live.url}/orgs/{live.world.org_id if live.world else 1}/policy")
    expect(page.get_by_text("revoked after 120 days")).to_be_visible()
    page.fill("#notice_days", "60")
    page.fill("#revoke_days", "50")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("alert")).to_contain_text("must come after the notice")
    page.fill("#revoke_days", "75")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_contain_text("The policy is saved")
    expect(page.get_by_text("revoked after 75 days")).to_be_visible()
    screenshot(page, "device-policy.png")

    mailer = CapturingMailer()
    settings = live.services.settings
    notices = NewNetworkNotices(live.services.deps, mailer, settings.sender_address, live.url)
    assert live.run(notices.send_pending()) == 1
    (network_notice,) = mailer.sent
    show_email(page, network_notice, "notice-new-network.png")

    live.clock.advance(timedelta(days=61))
    result = live.run(live.services.unused_devices(mailer).sweep())
    assert result.noticed == [new.device.id]
    unused_notice, digest = mailer.sent[1:]
    show_email(page, unused_notice, "notice-unused.png")
    show_email(page, digest, "notice-digest.png")

    page.goto(link_in(unused_notice, "/devices/keep/"))
    page.get_by_role("button", name="Keep this device").click()
    expect(page.get_by_role("heading", name="“Phone” is kept")).to_be_visible()
    screenshot(page, "device-keep.png")
    page.go_back()
    page.reload()
    page.get_by_role("button", name="Keep this device").click()
    expect(page.get_by_role("alert")).to_contain_text("already used")

    # The new-network notice's link, two months later: sign-in (expired), then sudo.
    page.goto(link_in(network_notice, "/revoke-confirm"))
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#email", "admin@corp.test")
    page.fill("#password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.fill("#code", fresh_code(live, secret))
    page.get_by_role("button", name="Sign in").click()
    if "/sudo" in page.url:
        page.fill("#password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Revoke Phone").click()
    expect(page).to_have_url(re.compile(r"/addresses/1/devices\?done=revoked"))


def test_history_and_policy_fit_a_phone(live: LiveMailward, phone: Page) -> None:
    enrol_and_sign_in(phone, live, "admin@corp.test")
    new = live.run(live.services.devices.add(Actor.operator(), ADDRESS, "Phone"))
    live.run(logins(live, new.password, [
        ("198.51.100.7", "imap", "Thunderbird 128.3"), ("2001:db8:44::9", "smtp", "iOS Mail"),
    ]))  # fmt: skip
    phone.goto(f"{live.url}/addresses/1/devices/{new.device.id}/history")
    expect(phone.locator("tbody tr")).to_have_count(2)
    assert_fits_the_screen(phone)
    screenshot(phone, "device-history.png")
    phone.goto(f"{live.url}/orgs/{live.world.org_id if live.world else 1}/policy")
    expect(phone.get_by_role("button", name="Save the policy")).to_be_visible()
    assert_fits_the_screen(phone)
    screenshot(phone, "device-policy.png")
