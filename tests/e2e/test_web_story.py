"""The product brief's whole story in a real browser (Chromium), with the passwords
tried on the embedded IMAP server by Python's imaplib."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.web_browser import (
    assert_fits_the_screen,
    crawl,
    device_action,
    enrol_and_sign_in,
    imap_login_works,
    screenshot,
    sign_in,
    sign_out,
)
from tests.e2e.web_harness import LiveMailward, live_mailward

pytestmark = pytest.mark.slow

ADDRESS = "info@example.test"
FIRST = "Website contact form, 2026-11-24"
SECOND = "Intern, one week"
CHOSEN = "Harbor-Lantern-Quartz-1987!"
WEAK = "passwordpassword123"  # long enough, and refused as too easy to guess


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


def go_to_devices(page: Page) -> None:
    """Dashboard → Mail Service → the domain → the address (Devices tab)."""
    page.get_by_role("link", name="Mail Service").first.click()
    page.get_by_role("link", name="example.test").click()
    page.get_by_role("link", name=ADDRESS).click()
    expect(page.get_by_role("heading", name=ADDRESS)).to_be_visible()
    page.get_by_role("link", name="Devices", exact=True).click()
    assert_fits_the_screen(page)


def add_device(page: Page, name: str, user: str, shots: bool) -> str:
    page.get_by_role("link", name="Add a device").click()
    page.get_by_label(user).check()
    page.get_by_label("Device name").fill(name)
    suggested = page.get_by_label("Password", exact=True).input_value()
    assert len(suggested) == 20
    expect(page.get_by_text("never shown again")).to_be_visible()
    assert_fits_the_screen(page)
    screenshot(page, "add-a-device.png", shots)
    page.get_by_role("button", name="Finish").click()
    shown = page.locator("#secret").input_value()
    assert shown == suggested
    expect(page.get_by_text("This password will never be shown again.")).to_be_visible()
    assert_fits_the_screen(page)
    assert_whole_password_visible(page)
    screenshot(page, "password-shown-once.png", shots)
    page.reload()  # resends the form: the device list, never the password again
    expect(page.locator("th", has_text=name)).to_be_visible()
    assert shown not in page.content()
    return shown


def assert_whole_password_visible(page: Page) -> None:
    """The password field is wide enough for all 20 characters."""
    field = page.locator("#secret")
    overflow = field.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 0, f"the password field hides {overflow} px of the password"


def accept_the_address_as_ursula(page: Page, live: LiveMailward) -> None:
    """The use of an address is an offer until the person, signed in, accepts it."""
    sign_out(page)
    enrol_and_sign_in(page, live, "user@corp.test")
    page.get_by_role("link", name="See the invitations").click()
    page.get_by_role("button", name=f"Accept: {ADDRESS}").click()
    sign_out(page)


def test_the_product_brief_story_in_the_browser(live: LiveMailward, page: Page) -> None:
    the_administrators_story(live, page, shots="sqlite" in str(live.database_url))


def test_the_administrators_story_on_a_375_px_phone(live_sqlite: LiveMailward, phone: Page) -> None:
    the_administrators_story(live_sqlite, phone, shots=True)


def the_administrators_story(live: LiveMailward, page: Page, shots: bool) -> None:
    secret = enrol_and_sign_in(page, live, "admin@corp.test", shots)
    sign_out(page)
    sign_in(page, live, "admin@corp.test", secret, shots)

    go_to_devices(page)
    first = add_device(page, FIRST, "Without user", shots)
    assert imap_login_works(live, ADDRESS, first)

    device_action(page, FIRST, "Modify the password")
    a_weak_password_is_refused_and_never_shown_as_good(page)
    page.get_by_label("New password").fill(CHOSEN)
    page.get_by_role("button", name="Save the new password").click()
    assert page.locator("#secret").input_value() == CHOSEN
    page.get_by_role("link", name="Finish").click()
    assert not imap_login_works(live, ADDRESS, first)
    assert imap_login_works(live, ADDRESS, CHOSEN)

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email of a member, or of a new person").fill("user@corp.test")
    page.get_by_role("button", name="Add the user").click()
    expect(page.get_by_role("row", name=re.compile("user@corp.test"))).to_contain_text("Pending")
    assert_fits_the_screen(page)
    screenshot(page, "users-tab.png", shots)
    accept_the_address_as_ursula(page, live)
    sign_in(page, live, "admin@corp.test", secret)
    go_to_devices(page)
    second = add_device(page, SECOND, "Ursula User", shots=False)
    expect(page.locator("tr", has_text=SECOND)).to_contain_text("user@corp.test")
    assert_fits_the_screen(page)
    screenshot(page, "devices-tab.png", shots)

    device_action(page, FIRST, "Revoke")
    confirmation = page.get_by_role("region", name=re.compile("Revoke"))
    expect(confirmation).to_contain_text(FIRST)
    expect(confirmation).to_contain_text("other devices of info@example.test are not affected")
    page.get_by_role("button", name=f"Revoke {FIRST}").click()
    expect(page.get_by_role("status")).to_contain_text("The other devices keep working")
    assert not imap_login_works(live, ADDRESS, CHOSEN)
    assert imap_login_works(live, ADDRESS, second)

    page.goto(f"{live.url}/dashboard")
    page.get_by_role("link", name="Audit log").first.click()
    expect(page.locator("tr", has_text="Device revoked").first).to_contain_text(FIRST)
    when = page.locator("table.audit time").first  # an inline box: one rectangle a line
    assert when.evaluate("el => el.getClientRects().length") == 1, "the date wraps"
    assert_fits_the_screen(page)
    screenshot(page, "audit-log.png", shots)

    pages = crawl(page, live)
    assert len(pages) > 10
    every_page_fits(page, live, pages)
    for password in (first, CHOSEN, second):
        leaks = [path for path, html in pages.items() if password in html]
        assert leaks == [], f"a device password appears on {leaks}"
        assert not any(password in line for line in live.logs.lines)


def a_weak_password_is_refused_and_never_shown_as_good(page: Page) -> None:
    """The live hint counts characters only; the server judges strength on saving."""
    page.get_by_label("New password").fill(WEAK)
    hint = page.locator("#password-help")
    expect(hint).to_contain_text("checked when you save it")
    expect(hint).not_to_have_class(re.compile(r"\bgood\b"))
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("alert")).to_contain_text("too weak")


def every_page_fits(page: Page, live: LiveMailward, pages: dict[str, str]) -> None:
    """Each page the crawl found, opened in this window, scrolls only up and down."""
    for path, html in pages.items():
        if html.startswith("200 ") and "/download" not in path:
            page.goto(f"{live.url}{path}")
            assert_fits_the_screen(page)
