"""A security notice that could not be sent is shown to the administrators: on the
address's Devices tab and in the organization's audit log (no smarthost here, so the
notice to admin@corp.test can be neither delivered locally nor queued)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mailward.core.access.actors import Actor
from tests.e2e.web_browser import assert_fits_the_screen, enrol_and_sign_in
from tests.e2e.web_harness import LiveMailward, live_mailward

pytestmark = pytest.mark.slow


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveMailward]:
    yield from live_mailward("sqlite", tmp_path)


def test_a_notice_that_could_not_be_sent_is_on_the_devices_tab_and_in_the_audit_log(
    live: LiveMailward, phone: Page
) -> None:
    page = phone
    enrol_and_sign_in(page, live, "admin@corp.test")
    live.run(live.services.devices.add(Actor.operator(), "info@example.test", "Front desk"))
    unsent = page.locator(".notice-not-sent")
    for _ in range(50):  # the notice is sent after the change, by its subscriber
        page.goto(f"{live.url}/addresses/1/devices")
        if unsent.count():
            break
        page.wait_for_timeout(100)
    expect(unsent).to_contain_text("“Front desk” could not be sent to admin@corp.test")
    expect(unsent).to_contain_text("no smarthost is configured")
    expect(unsent).not_to_contain_text("copy the link")  # that advice is for invitations
    assert_fits_the_screen(page)
    unsent.get_by_role("link", name="See them in the audit log").click()
    row = page.locator("tr", has_text="Security notice not sent")
    expect(row.first).to_contain_text(re.compile("reason: no smarthost"))
    assert_fits_the_screen(page)
