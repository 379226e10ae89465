"""The setup assistant in a real browser (Chromium): the admin invites a person, the
invitation arrives in their local mailbox (read over IMAP), they follow the link,
create their account with the code mailed to that same mailbox, obtain a device
password, log in to IMAP with it; the link then fails, as do expired and cancelled
links. Discovery documents are fetched with curl."""

from __future__ import annotations

import email
import imaplib
import plistlib
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailward.core.access.actors import Actor
from mailward.core.invitations.service import InvitationService
from tests.e2e.web_browser import (
    _tls,
    assert_fits_the_screen,
    enrol_and_sign_in,
    fresh_code,
    imap_login_works,
    screenshot,
)
from tests.e2e.web_harness import LiveMailward, live_mailward
from tests.integration.test_discovery_documents import (
    check_apple,
    check_outlook,
    check_thunderbird,
)
from tests.mailbox import code_in

pytestmark = pytest.mark.slow

ADDRESS = "info@example.test"
INVITED = "ursula@example.test"
ACCOUNT_PASSWORD = "Juniper-Falcon-Meadow-42"
_LINK = re.compile(r"http://127\.0\.0\.1:\d+/invite/[A-Za-z0-9_-]+")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


def reader_password(live: LiveMailward) -> str:
    """A mailbox for the invited person, and a device to read it with over IMAP."""
    op = Actor.operator()
    services = live.services
    live.run(services.addresses.create_by_email(op, INVITED))
    return live.run(services.devices.add(op, INVITED, "Test reader")).password


def invitation_from_mailbox(live: LiveMailward, password: str) -> EmailMessage:
    """The newest message in the invited person's inbox, read over IMAP."""
    assert live.mail_ports is not None
    client = imaplib.IMAP4_SSL("127.0.0.1", live.mail_ports.imaps, ssl_context=_tls(), timeout=15)
    try:
        client.login(INVITED, password)
        client.select("INBOX")
        _, found = client.search(None, "ALL")
        ids = found[0].split()
        assert ids, "the invitation did not arrive in the local mailbox"
        _, data = client.fetch(ids[-1], "(RFC822)")
    finally:
        client.logout()
    raw = data[0]
    assert isinstance(raw, tuple)
    message = email.message_from_bytes(raw[1], policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def code_from_mailbox(live: LiveMailward, password: str) -> EmailMessage:
    """The email-proof code's message: sent just after the page answered."""
    for _ in range(50):
        message = invitation_from_mailbox(live, password)
        if message["Subject"] == "Your Mailward code":
            return message
        time.sleep(0.1)
    raise AssertionError("the code did not arrive in the invited person's mailbox")


def admin_sends_assistant(page: Page, live: LiveMailward) -> None:
    enrol_and_sign_in(page, live, "admin@corp.test")
    page.goto(f"{live.url}/addresses/1/users")
    page.fill("#user-email", INVITED)
    page.get_by_role("button", name="Add the user").click()
    page.goto(f"{live.url}/addresses/1/devices")
    page.get_by_role("link", name="Add a device").click()
    send = page.get_by_role("button", name="Send a setup assistant for the user's device")
    expect(send).to_be_hidden()  # "Without user" is chosen: nobody to send it to
    page.get_by_label(INVITED).check()
    page.get_by_label("Device name").fill("Ursula's iPhone")
    assert_fits_the_screen(page)
    send.click()
    expect(page.get_by_role("heading", name=f"Setup assistant for {INVITED}")).to_be_visible()
    page.get_by_role("button", name="Send by email").click()
    expect(page.locator("#sent")).to_contain_text(f"The invitation was sent to {INVITED}")
    assert_fits_the_screen(page)
    screenshot(page, "assistant-sent.png")
    page.goto(f"{live.url}/addresses/1/devices")
    expect(page.locator("#pending-invitations")).to_contain_text("Ursula's iPhone")
    assert_fits_the_screen(page)
    screenshot(page, "pending-assistants.png")


def open_on_the_phone(page: Page, url: str) -> bytes:
    """What the phone's camera does with the QR code: open the URL; its page posts the
    fragment's secret (never sent in a URL, never logged) and the download starts."""
    phone = page.context.new_page()
    with phone.expect_download() as started:
        phone.goto(url, wait_until="commit")
    content = Path(started.value.path()).read_bytes()
    phone.close()
    return content


def invited_person_obtains_password(page: Page, live: LiveMailward, link: str, reader: str) -> str:
    page.get_by_role("button", name="Sign out").first.click()
    response = page.goto(link)
    assert response is not None and response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator('input[type="password"]')).to_have_count(0)  # the link sets none
    assert_fits_the_screen(page)
    screenshot(page, "assistant-link.png")
    page.get_by_role("button", name="Create my account").click()
    expect(page.locator("#code-sent")).to_contain_text(INVITED)
    code = code_in(code_from_mailbox(live, reader))  # only that mailbox has it
    page.fill("#code", code)
    page.fill("#password", ACCOUNT_PASSWORD)
    page.fill("#confirm", ACCOUNT_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    set_notice = page.get_by_role("status").filter(has_text="Your password is set")
    expect(set_notice).to_be_visible()  # the page has other live regions (passkeys)
    expect(page.locator("#email")).to_have_value(INVITED)
    page.fill("#password", ACCOUNT_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    secret = page.inner_text("#totp-secret").strip()
    page.fill("#code", fresh_code(live, secret))
    page.get_by_role("button", name="Turn on and continue").click()
    page.get_by_role("link", name="I saved them, continue").click()
    expect(page.get_by_role("heading", name=re.compile("Which mail program"))).to_be_visible()
    assert_fits_the_screen(page)
    page.get_by_label("Apple Mail on iPhone or iPad").check()
    page.get_by_role("button", name="Continue").click()
    suggested = page.locator("#password").input_value()
    assert_fits_the_screen(page)
    page.get_by_role("button", name="Obtain my password").click()
    shown = page.locator("#secret").input_value()
    assert shown == suggested and len(shown) == 20
    assert_fits_the_screen(page)
    screenshot(page, "assistant-password.png")
    expect(page.locator("#client-settings")).to_contain_text("SSL/TLS")
    expect(page.locator("figure.qr svg")).to_be_visible()
    profile_url = page.locator("#profile").get_attribute("href")
    assert profile_url is not None
    check_apple(open_on_the_phone(page, profile_url), ADDRESS, shown)
    gone = page.context.new_page()  # once, never again
    gone.goto(profile_url)
    expect(gone.get_by_role("heading", name="no longer available")).to_be_visible()
    gone.close()
    secret_part = profile_url.partition("#")[2]
    assert len(secret_part) >= 40 and not any(secret_part in line for line in live.logs.lines)
    page.goto(f"{live.url}/dashboard")
    expect(page.get_by_role("heading", name=f"Hello, {INVITED}")).to_be_visible()
    expect(page.locator("#no-organization")).to_contain_text("setup-assistant link")
    own = page.locator("#own-devices")  # what they can do: their devices, where they are
    expect(own).to_contain_text("Ursula's iPhone")
    expect(own).to_contain_text(ADDRESS)
    assert_fits_the_screen(page)
    screenshot(page, "invitee-dashboard.png")
    return shown


@pytest.mark.parametrize("window", ["page", "phone"], ids=["1280px", "375px"])
def test_an_invited_person_obtains_a_working_password_through_the_link(
    window: str, request: pytest.FixtureRequest, live: LiveMailward
) -> None:
    page: Page = request.getfixturevalue(window)
    reader = reader_password(live)
    admin_sends_assistant(page, live)
    message = invitation_from_mailbox(live, reader)
    assert message["From"] and "info@example.test" in message["Subject"]
    body = message.get_body(("plain",))
    assert body is not None
    link = _LINK.search(body.get_content())
    assert link, "no invitation link in the email"
    password = invited_person_obtains_password(page, live, link.group(0), reader)
    assert imap_login_works(live, ADDRESS, password)
    users = live.run(live.services.addresses.users(Actor.operator(), ADDRESS))
    assert (INVITED, "accepted") in [(u.email, u.state) for u in users]  # by using the link
    page.goto(link.group(0))
    expect(page.locator("#invitation-unusable")).to_have_attribute("data-reason", "used")
    expect(page.get_by_role("alert")).to_contain_text("Ask an administrator of Corp")


def test_expired_and_cancelled_links_show_the_explanation_page(
    page: Page, live: LiveMailward
) -> None:
    services = live.services
    admin = live.world.admin if live.world else None
    assert admin is not None
    live.run(services.addresses.add_user(admin, ADDRESS, "user@corp.test"))
    invitations = InvitationService(services.deps, services.devices)
    expiring = live.run(invitations.create(admin, ADDRESS, "user@corp.test", "Laptop"))
    cancelled = live.run(invitations.create(admin, ADDRESS, "user@corp.test", "Tablet"))
    live.run(invitations.cancel(admin, ADDRESS, cancelled.invitation.id))
    page.goto(f"{live.url}/invite/{cancelled.token}")
    expect(page.locator("#invitation-unusable")).to_have_attribute("data-reason", "cancelled")
    expect(page.get_by_role("alert")).to_contain_text("was cancelled")
    page.goto(f"{live.url}/invite/{expiring.token}")
    expect(page.get_by_role("link", name="Sign in as user@corp.test")).to_be_visible()
    live.clock.advance(timedelta(days=30, seconds=1))
    page.goto(f"{live.url}/invite/{expiring.token}")
    expect(page.locator("#invitation-unusable")).to_have_attribute("data-reason", "expired")
    expect(page.get_by_role("alert")).to_contain_text("valid for 30 days")


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args], capture_output=True, check=True
    )


def test_discovery_documents_answer_curl_as_the_clients_ask(live: LiveMailward) -> None:
    hostname = live.services.settings.hostname
    for path in (
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=info%40example.test",
        "/mail/config-v1.1.xml?emailaddress=info@example.test",
        "/mail/config-v1.1.xml",
    ):
        out = curl("-i", "-H", "Host: evil.example", f"{live.url}{path}").stdout
        head, _, body = out.partition(b"\r\n\r\n")
        assert b"content-type: application/xml" in head.lower()
        assert b"evil.example" not in body
        check_thunderbird(body, "example.test", hostname, ports=False)
    unknown = curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        f"{live.url}/mail/config-v1.1.xml?emailaddress=a@nowhere.test",
    )
    assert unknown.stdout == b"404"
    request = (
        '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com'
        '/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
        "info@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com"
        "/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>"
        "</Request></Autodiscover>"
    )
    for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
        out = curl("-H", "Content-Type: text/xml", "--data-binary", request, f"{live.url}{path}")
        check_outlook(out.stdout, "info@example.test", hostname)
    json_out = curl(
        f"{live.url}/autodiscover/autodiscover.json?Email=info@example.test&Protocol=AutodiscoverV1"
    )
    assert json_out.stdout.decode().find("/autodiscover/autodiscover.xml") > 0
    profile = curl(f"{live.url}/mail/profile.mobileconfig?emailaddress=info@example.test").stdout
    check_apple(profile, "info@example.test", None)
    assert "IncomingPassword" not in plistlib.loads(profile)["PayloadContent"][0]
