"""Passkeys in Debian's Chromium with the DevTools virtual authenticator (CTAP2, resident
keys, user verification): register one, sign in with it alone and as the second
factor, confirm sudo with it, see a cloned credential (its sign count replayed lower)
refused and audited, and remove it. WebAuthn needs a domain, so the browser talks to
``localhost``, which is also the relying-party id taken from ``public_url``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect
from sqlalchemy import select

from mailward.db.models import AuditEvent
from tests.e2e.web_browser import (
    PHONE,
    assert_fits_the_screen,
    enrol_and_sign_in,
    password_step,
    screenshot,
    sign_in,
    sign_out,
)
from tests.e2e.web_harness import DB_KINDS, LiveMailward, live_mailward

pytestmark = pytest.mark.slow

ADMIN = "admin@corp.test"
KEY_NAME = "Work laptop"
DASHBOARD = re.compile(r"^http://localhost:\d+/dashboard$")


@pytest.fixture(params=DB_KINDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward(request.param, tmp_path, host="localhost")


def virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, str(added["authenticatorId"])


def credentials(cdp: CDPSession, authenticator: str) -> list[dict[str, Any]]:
    found = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    return list(found["credentials"])


def audit_actions(live: LiveMailward) -> list[str]:
    async def read() -> list[str]:
        async with live.services.db.unit_of_work() as uow:
            return list(await uow.session.scalars(select(AuditEvent.action)))

    return live.run(read())


def sign_in_with_passkey_alone(page: Page, live: LiveMailward) -> None:
    page.goto(f"{live.url}/login")
    page.get_by_role("button", name="Sign in with a passkey").click()


def test_a_passkey_registers_signs_in_confirms_sudo_refuses_a_clone_and_is_removed(
    live: LiveMailward, page: Page
) -> None:
    shots = "sqlite" in live.database_url
    cdp, authenticator = virtual_authenticator(page)
    secret = enrol_and_sign_in(page, live, ADMIN)

    # Register (a fresh sign-in is in sudo mode).
    page.goto(f"{live.url}/account")
    page.get_by_role("link", name="Manage my passkeys").click()
    expect(page.get_by_role("heading", name="My passkeys")).to_be_visible()
    page.fill("#passkey-name", KEY_NAME)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("The passkey was added.")).to_be_visible()
    expect(page.locator("#passkeys tbody tr")).to_have_count(1)
    expect(page.locator("#passkeys th", has_text=KEY_NAME)).to_be_visible()
    (registered,) = credentials(cdp, authenticator)
    assert registered["isResidentCredential"] and registered["rpId"] == "localhost"
    snapshot = dict(registered)  # a copy of the key as it was, for the clone below

    # Sign in with the passkey alone (discoverable credential, user verified).
    sign_out(page)
    page.goto(f"{live.url}/login")
    screenshot(page, "sign-in-passkey.png", shots)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page).to_have_url(DASHBOARD)

    # The passkey as the second factor, after the password.
    sign_out(page)
    password_step(page, live, ADMIN, "correct horse battery staple 42")
    page.get_by_role("button", name="Use a passkey instead").click()
    expect(page).to_have_url(DASHBOARD)

    # Sudo with the passkey, once the sudo window is over.
    live.clock.advance(timedelta(minutes=live.services.settings.sudo_minutes + 1))
    page.goto(f"{live.url}/account/passkeys")
    expect(page).to_have_url(re.compile(r"/sudo\?next="))
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page).to_have_url(re.compile(r"/account/passkeys$"))
    expect(page.get_by_text("Last used")).to_be_visible()
    screenshot(page, "passkeys.png", shots)
    page.set_viewport_size(PHONE)
    assert_fits_the_screen(page)
    screenshot(page, "passkeys.png", shots)  # phone-passkeys.png
    page.set_viewport_size({"width": 1280, "height": 860})

    # A clone: the same key with the sign count it had at registration.
    cdp.send(
        "WebAuthn.removeCredential",
        {"authenticatorId": authenticator, "credentialId": registered["credentialId"]},
    )
    cdp.send("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": snapshot})
    sign_out(page)
    sign_in_with_passkey_alone(page, live)
    expect(page.get_by_text("looks copied")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))
    assert "account:passkey_cloned" in audit_actions(live)

    # Recovery by the usual way, then remove the passkey.
    sign_in(page, live, ADMIN, secret)
    page.goto(f"{live.url}/account/passkeys")
    page.get_by_role("button", name=f"Remove {KEY_NAME}").click()
    expect(page.get_by_text("The passkey was removed.")).to_be_visible()
    expect(page.locator("#no-passkeys")).to_be_visible()
    actions = audit_actions(live)
    assert "account:passkey_add" in actions and "account:passkey_remove" in actions

    # Removed means refused, even by the authenticator that still holds it.
    sign_out(page)
    sign_in_with_passkey_alone(page, live)
    expect(page.get_by_text("not registered here")).to_be_visible()
