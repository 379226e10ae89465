"""Browser-side helpers for the web tests: Chromium, signing in with 2FA, the ⋮ menu,
device passwords tried on the embedded IMAP server, and crawling every page."""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import shutil
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.web_harness import CHROMIUM, CHROMIUM_ARGS, LiveMailward, require_chromium
from tests.support import ADMIN_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# Test runs write here (git-ignored); MAILWARD_REFRESH_SCREENSHOTS=1 also copies the
# shots over the committed ones in docs/screenshots (see docs/WEB.md).
SCREENSHOTS = ROOT / "build" / "screenshots"
COMMITTED_SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 375, "height": 740}
_HREF = re.compile(r'href="(/[^"#]*)"')


def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str, enabled: bool = True) -> None:
    """A full-page shot in build/screenshots; on a phone-sized page named phone-<name>."""
    if not enabled:
        return
    if page.viewport_size is not None and page.viewport_size["width"] <= PHONE["width"]:
        name = f"phone-{name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    if os.environ.get("MAILWARD_REFRESH_SCREENSHOTS") == "1":
        shutil.copyfile(SCREENSHOTS / name, COMMITTED_SCREENSHOTS / name)


# Every visible button, link and field that leaves the window, sticks out of its card
# or is cut off by a box that hides what overflows (a box that scrolls sideways keeps
# it reachable). The skip link, the forms' hidden default button and visually hidden
# text stand out of sight on purpose.
_OUT_OF_REACH = """() => {
  const inside = (r, box) => r.left >= box.left - 1 && r.right <= box.right + 1;
  const out = [];
  const actions = 'button, a[href], input:not([type=hidden]), select, textarea, summary';
  for (const el of document.querySelectorAll(actions)) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    if (el.closest('.skip, .default-submit, .visually-hidden')) continue;
    let scrolls = false, cut = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') { scrolls = true; break; }
      if (overflow === 'hidden' || overflow === 'clip' || p.classList.contains('card')) {
        cut = cut || !inside(r, p.getBoundingClientRect());
      }
    }
    if (cut || (!scrolls && !inside(r, {left: 0, right: window.innerWidth}))) {
      out.push(el.outerHTML.slice(0, 100));
    }
  }
  return out;
}"""


def assert_fits_the_screen(page: Page) -> None:
    """No sideways scrolling: the page is no wider than the window, and every action
    on it is within reach: not beyond the window's edge, out of its card or cut off."""
    width = page.evaluate("document.documentElement.scrollWidth")
    window = page.evaluate("window.innerWidth")
    assert width <= window, f"{page.url} is {width} px wide in a {window} px window"
    out_of_reach = page.evaluate(_OUT_OF_REACH)
    assert out_of_reach == [], f"{page.url}: out of reach in a {window} px window: {out_of_reach}"


def fresh_code(live: LiveMailward, secret: str) -> str:
    """A TOTP code of a new time step (each code is accepted once)."""
    live.clock.advance(timedelta(seconds=30))
    return pyotp.TOTP(secret).at(live.clock.now())


def password_step(page: Page, live: LiveMailward, email: str, password: str) -> None:
    page.goto(f"{live.url}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Continue").click()


def enrol_and_sign_in(page: Page, live: LiveMailward, email: str, shots: bool = False) -> str:
    """First sign-in of an account without 2FA: enrol an authenticator. Returns its secret."""
    password_step(page, live, email, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    secret = page.inner_text("#totp-secret").strip()
    screenshot(page, "2fa-setup.png", shots)
    page.fill("#code", fresh_code(live, secret))
    page.get_by_role("button", name="Turn on and continue").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I saved them, continue").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return secret


def sign_in(page: Page, live: LiveMailward, email: str, secret: str, shots: bool = False) -> None:
    password_step(page, live, email, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.fill("#code", fresh_code(live, secret))
    screenshot(page, "sign-in-2fa.png", shots)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect(page).to_have_url(re.compile(r"/login"))


def device_action(page: Page, device: str, action: str) -> None:
    """Open the ⋮ menu of a device's row and choose an action."""
    row = page.locator("tr", has=page.locator("th", has_text=device))
    row.get_by_label(f"Actions for {device}").click()
    row.get_by_role("link", name=action).click()


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def imap_login_works(live: LiveMailward, address: str, password: str) -> bool:
    """Log in to the embedded IMAP server (implicit TLS) with Python's imaplib."""
    assert live.mail_ports is not None
    client = imaplib.IMAP4_SSL("127.0.0.1", live.mail_ports.imaps, ssl_context=_tls(), timeout=15)
    try:
        client.login(address, password)
    except imaplib.IMAP4.error:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return True


def crawl(
    page: Page, live: LiveMailward, start: str = "/dashboard", limit: int = 300
) -> dict[str, str]:
    """Every page reachable by links from ``start`` (GET only): path → HTML."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or path.startswith("/static/"):
            continue
        response = page.request.get(f"{live.url}{path}", max_redirects=0)
        body = response.text()
        seen[path] = f"{response.status} {response.headers}\n{body}"
        queue.extend(p.replace("&amp;", "&") for p in _HREF.findall(body))
    return seen
