"""The setup assistant's QR code for phones: it encodes a one-time URL whose secret is
in the fragment (never sent, so never in an access log); the landing page posts it in
a form body; the content comes once, within minutes, then the URL is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import segno

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.web.app import create_app
from mailward.web.assistant import AssistantState, phone
from mailward.web.assistant.downloads import DOWNLOAD_LIFETIME
from tests.web_support import BASE_URL, csrf_of

PASSWORD = "Kq7mZt3xWp9vRb2nHc4d"


@dataclass
class PhoneBrowser:
    """The browser of a phone that scanned the QR code, and the assistant that made it."""

    state: AssistantState
    client: httpx.AsyncClient

    async def open(self, url: str) -> httpx.Response:
        """What the browser does: GET without the fragment, then the script's POST."""
        parts = urlsplit(url)
        landing = await self.client.get(parts.path)
        assert landing.status_code == 200 and "/static/download.js" in landing.text
        form = {"csrf": csrf_of(landing.text), "token": parts.fragment}
        return await self.client.post(parts.path, data=form)


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[PhoneBrowser]:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 123))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield PhoneBrowser(app.state.assistant, client)


def offer_password(state: AssistantState) -> str:
    """The phone's one-time URL of the password page."""
    return phone.offer(state, "Ursula's phone", phone.PASSWORD_PAGE, PASSWORD.encode())


def test_the_qr_code_encodes_a_url_whose_secret_is_only_in_the_fragment(
    services: Services,
) -> None:
    state = AssistantState.build(services)
    url = offer_password(state)
    parts = urlsplit(url)
    assert parts.path == "/assistant/download" and not parts.query and len(parts.fragment) >= 40
    svg = phone.qr_svg(url)
    assert svg.startswith("<svg") and PASSWORD not in svg
    assert segno.make(url, error="m").is_micro is False  # a camera reads a full QR code


async def test_the_password_opens_once_then_is_refused(browser: PhoneBrowser) -> None:
    url = offer_password(browser.state)
    first = await browser.open(url)
    assert first.status_code == 200 and PASSWORD in first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    again = await browser.open(url)
    assert again.status_code == 410 and PASSWORD not in again.text


async def test_the_profile_downloads_once(browser: PhoneBrowser) -> None:
    url = phone.offer(
        browser.state, "mail.mobileconfig", "application/x-apple-aspen-config", b"plist"
    )
    first = await browser.open(url)
    assert first.status_code == 200 and first.content == b"plist"
    assert "attachment" in first.headers["content-disposition"]
    assert (await browser.open(url)).status_code == 410


async def test_the_url_expires(browser: PhoneBrowser, clock: FrozenClock) -> None:
    url = offer_password(browser.state)
    clock.advance(DOWNLOAD_LIFETIME + timedelta(seconds=1))
    expired = await browser.open(url)
    assert expired.status_code == 410 and PASSWORD not in expired.text


async def test_a_post_without_the_pages_csrf_token_is_refused(browser: PhoneBrowser) -> None:
    url = offer_password(browser.state)
    token = urlsplit(url).fragment  # the secret, without the page's CSRF token
    refused = await browser.client.post("/assistant/download", data={"token": token})
    assert refused.status_code == 403 and PASSWORD not in refused.text
    assert PASSWORD in (await browser.open(url)).text  # still there, once
