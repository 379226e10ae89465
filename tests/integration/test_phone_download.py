"""The setup assistant's QR code for phones: it encodes a one-time URL whose secret is
in the fragment (never sent, so never in an access log); the landing page posts it in
a form body; the content comes once, within minutes, then the URL is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
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


@pytest.fixture
async def opened(services: Services) -> AsyncIterator[tuple[AssistantState, httpx.AsyncClient]]:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 123))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield app.state.assistant, client


async def open_on_a_phone(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """What the phone's browser does: GET without the fragment, then the script's POST."""
    parts = urlsplit(url)
    landing = await client.get(parts.path)
    assert landing.status_code == 200 and "/static/download.js" in landing.text
    form = {"csrf": csrf_of(landing.text), "token": parts.fragment}
    return await client.post(parts.path, data=form)


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


async def test_the_password_opens_once_then_is_refused(
    opened: tuple[AssistantState, httpx.AsyncClient],
) -> None:
    state, client = opened
    url = offer_password(state)
    first = await open_on_a_phone(client, url)
    assert first.status_code == 200 and PASSWORD in first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    again = await open_on_a_phone(client, url)
    assert again.status_code == 410 and PASSWORD not in again.text


async def test_the_profile_downloads_once(
    opened: tuple[AssistantState, httpx.AsyncClient],
) -> None:
    state, client = opened
    url = phone.offer(state, "mail.mobileconfig", "application/x-apple-aspen-config", b"plist")
    first = await open_on_a_phone(client, url)
    assert first.status_code == 200 and first.content == b"plist"
    assert "attachment" in first.headers["content-disposition"]
    assert (await open_on_a_phone(client, url)).status_code == 410


async def test_the_url_expires(
    opened: tuple[AssistantState, httpx.AsyncClient], clock: FrozenClock
) -> None:
    state, client = opened
    url = offer_password(state)
    clock.advance(DOWNLOAD_LIFETIME + timedelta(seconds=1))
    expired = await open_on_a_phone(client, url)
    assert expired.status_code == 410 and PASSWORD not in expired.text


async def test_a_post_without_the_pages_csrf_token_is_refused(
    opened: tuple[AssistantState, httpx.AsyncClient],
) -> None:
    state, client = opened
    url = offer_password(state)
    refused = await client.post("/assistant/download", data={"token": urlsplit(url).fragment})
    assert refused.status_code == 403 and PASSWORD not in refused.text
    assert PASSWORD in (await open_on_a_phone(client, url)).text  # still there, once
