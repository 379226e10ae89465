"""Fixtures shared by the end-to-end tests: one Chromium per module, a fresh context
(cookies, storage) per test, and ``live``, a running Mailward on each database kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.web_browser import PHONE, chromium
from tests.e2e.web_harness import DB_KINDS, LiveMailward, live_mailward


@pytest.fixture(params=DB_KINDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveMailward]:
    """Mailward serving the manager and mail, on SQLite and on PostgreSQL."""
    yield from live_mailward(request.param, tmp_path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page the size of a small phone (375 px wide), touch and all."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()
