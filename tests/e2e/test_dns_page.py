"""The DNS page lists every record a Mail Service needs, as a table and as zone-file
lines, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mailward.core.access.actors import Actor
from tests.e2e.web_browser import enrol_and_sign_in, screenshot
from tests.e2e.web_harness import LiveMailward

pytestmark = pytest.mark.slow


def test_the_dns_page_lists_mx_spf_dkim_dmarc_mta_sts_and_tls_rpt(
    live: LiveMailward, page: Page
) -> None:
    shots = "sqlite" in str(live.database_url)
    view = live.run(live.services.mail_services.get(Actor.operator(), "example.test"))
    enrol_and_sign_in(page, live, "admin@corp.test")
    page.goto(f"{live.url}/mail-services/{view.id}/dns")
    table = page.locator("#dns-records")
    for name in [
        "_dmarc.example.test.",
        "_mta-sts.example.test.",
        "_smtp._tls.example.test.",
        "_imaps._tcp.example.test.",
    ]:
        expect(table.get_by_role("cell", name=name, exact=True)).to_be_visible()
    expect(table.locator("td", has_text="._domainkey.example.test.")).to_have_count(2)
    # the live server's public_url is on 127.0.0.1: no CNAME may name an address
    expect(table.get_by_role("cell", name="mta-sts.example.test.", exact=True)).to_have_count(0)
    expect(page.locator(".dns-warning")).to_contain_text("127.0.0.1, an IP address")
    expect(table.get_by_role("cell", name="v=spf1 mx a:localhost -all")).to_be_visible()
    page.get_by_text("As zone-file lines").click()
    expect(page.locator("pre")).to_contain_text('_dmarc.example.test. 3600 IN TXT "v=DMARC1;')
    screenshot(page, "dns-records.png", shots)
