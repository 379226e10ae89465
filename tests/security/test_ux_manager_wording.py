"""What the manager says, as a new administrator reads it: names keep their case in
errors, a person without a name is listed once, the audit log reads as phrases, a new
password leads to a sign-in page that says so, and /favicon.ico exists."""

from __future__ import annotations

import html
import re

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from tests.support import World
from tests.web_support import form_of, signed_in_admin_at, web_client


async def test_already_exists_keeps_the_case_of_the_device_name(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    await world.services.devices.add(world.admin, aid, "Front Desk iPad")
    page = f"/addresses/{aid}/devices/new"
    fields = await admin.form(page, name="Front Desk iPad", action="finish")
    refused = await admin.client.post(page, data=fields)
    assert refused.status_code == 400
    assert "Front Desk iPad" in html.unescape(refused.text)  # was "front desk ipad"


async def test_a_user_without_a_name_is_listed_once(world: World, clock: FrozenClock) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    services = world.services
    await services.accounts.create(
        Actor.operator(), "nameless@corp.test", "Quiet-Harbor-Lamp-4821", ""
    )
    await services.addresses.add_user(world.admin, aid, "nameless@corp.test")
    page = (await admin.get(f"/addresses/{aid}/devices/new")).text
    assert page.count("nameless@corp.test") == 2  # the radio's value and its label


async def test_the_audit_log_reads_as_phrases(world: World, clock: FrozenClock) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    await world.services.devices.add(world.admin, aid, "Scanner")
    log = (await admin.get(f"/orgs/{world.org_id}/audit")).text
    assert "Device added" in log and "<code>device:add</code>" not in log
    assert not re.search(r";\s*</td>", log)  # no stray separator after the last detail
    assert 'value="account:login"' not in log  # never in an organization's log
    filtered = (await admin.get(f"/orgs/{world.org_id}/audit?action=account:login")).text
    assert "mailward audit list" in filtered  # says where sign-ins are


async def test_a_new_password_leads_to_a_sign_in_page_that_says_so(world: World) -> None:
    client = web_client(world.services)
    page = await client.get("/login?next=/dashboard&created=1&email=ursula%40example.test")
    assert "Your password is set" in page.text
    assert 'value="ursula@example.test"' in page.text
    garbage = await client.get("/login?created=%00&email=" + "%3Cb%3E" * 200)
    assert garbage.status_code == 200 and "<b>" not in garbage.text


async def test_favicon_is_served(world: World) -> None:
    response = await web_client(world.services).get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/x-icon"


async def test_an_invitation_without_smarthost_says_its_advice_once(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    await world.services.addresses.add_user(world.admin, aid, "user@corp.test")
    new = f"/addresses/{aid}/devices/new"
    fields = await admin.form(new, user="user@corp.test", name="Laptop")
    link_page = await admin.client.post(f"/addresses/{aid}/invitations/new", data=fields)
    assert link_page.status_code == 200, link_page.text[:300]
    send = form_of(link_page.text)
    sent = await admin.client.post(f"/addresses/{aid}/invitations/send", data=send)
    text = html.unescape(sent.text).lower()
    assert "no smarthost is configured" in text  # corp.test is not on this server
    assert text.count("copy the link and send it yourself") == 1


async def test_a_setup_assistant_without_a_user_says_whom_to_choose(
    world: World, clock: FrozenClock
) -> None:
    """Without the page's script the button stays visible: "Without user" then gets
    the reason, not a bare 400."""
    admin, aid = await signed_in_admin_at(world, clock)
    fields = await admin.form(f"/addresses/{aid}/devices/new", user="", name="Laptop")
    refused = await admin.client.post(f"/addresses/{aid}/invitations/new", data=fields)
    assert refused.status_code == 400
    assert "Choose the user who will receive the setup assistant" in html.unescape(refused.text)
