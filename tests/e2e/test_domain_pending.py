"""A manager claims a domain in the browser: the Mail Service page shows it pending with
the TXT record to publish and "Check now"; once the record is served by a real DNS
server (dnsmasq), "Check now" verifies it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailward.dnslookup import DnsTxtLookup
from tests.e2e.web_browser import enrol_and_sign_in, screenshot
from tests.e2e.web_harness import LiveMailward
from tests.security.dns_server import DnsServer

pytestmark = pytest.mark.slow

DOMAIN = "corp-a.test"


def test_a_claimed_domain_is_pending_until_check_now_sees_its_record(
    live: LiveMailward, dns: DnsServer, page: Page
) -> None:
    shots = "sqlite" in str(live.database_url)
    live.services.domain_checks.lookup = DnsTxtLookup([dns.resolver], 1.0)
    enrol_and_sign_in(page, live, "admin@corp.test")
    page.goto(f"{live.url}/mail-services")
    page.get_by_label("New Mail Service (domain)").fill(DOMAIN)
    page.get_by_role("button", name="Create the Mail Service").click()

    expect(page.get_by_role("heading", name=DOMAIN, exact=True)).to_be_visible()
    expect(page.get_by_text("Pending verification")).to_be_visible()
    name = page.locator("#record-name").input_value()
    value = page.locator("#record-value").input_value()
    assert name == f"_mailward.{DOMAIN}" and value.startswith("mailward-verification=")
    page.get_by_role("button", name="Check now").click()
    expect(page.locator("#verification-state")).to_contain_text("does not exist")
    screenshot(page, "domain-pending.png", shots)

    dns.publish({name: [value]})
    page.get_by_role("button", name="Check now").click()
    expect(page.get_by_text("Verified", exact=True)).to_be_visible()
    expect(page.locator("#domain-verification")).to_have_count(0)
