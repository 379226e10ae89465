"""The web manager's defences, through HTTP on SQLite and PostgreSQL: CSRF, session
fixation, sudo mode, rate limits, headers, rights and other organizations' objects."""

from __future__ import annotations

from datetime import timedelta

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from tests.support import ADMIN_PASSWORD, World, accept_offers
from tests.web_support import (
    csrf_of,
    enrol_totp,
    enter_password,
    next_code,
    sign_in,
    signed_in,
    signed_in_admin_at,
    web_client,
)


async def address_id(world: World) -> int:
    return (await world.services.addresses.get(world.admin, world.address)).id


async def test_the_root_redirects_to_the_sign_in_form_which_posts_to_login(world: World) -> None:
    async with web_client(world.services) as client:
        root = await client.get("/")
        assert root.status_code in (302, 303, 307)
        assert root.headers["location"] == "/login"
        page = await client.get("/login")
    assert 'action="/login"' in page.text and 'method="post"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " on" + "click=" not in page.text


async def test_a_form_without_a_valid_csrf_token_is_rejected_and_changes_nothing(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    for data in ({"email": "user@corp.test"}, {"email": "user@corp.test", "csrf": "0" * 64}):
        response = await admin.client.post(f"/addresses/{aid}/users", data=data)
        assert response.status_code == 403
        assert "Nothing was changed" in response.text
    assert await world.services.addresses.users(world.admin, aid) == []
    ok = await admin.post_form(
        f"/addresses/{aid}/users", f"/addresses/{aid}/users", {"email": "user@corp.test"}
    )
    assert ok.status_code == 303
    await admin.client.aclose()


async def test_a_session_cookie_from_before_sign_in_is_not_valid_after_it(
    world: World, clock: FrozenClock
) -> None:
    assert world.admin.account_id is not None
    secret = await enrol_totp(world.services, world.admin.account_id)
    async with web_client(world.services) as client:
        await enter_password(client, "admin@corp.test")
        before = client.cookies["mw_session"]
        page = await client.get("/login/2fa")
        await client.post(
            "/login/2fa", data={"csrf": csrf_of(page.text), "code": next_code(secret, clock)}
        )
        after = client.cookies["mw_session"]
        assert (await client.get("/dashboard")).status_code == 200
    assert before != after
    async with web_client(world.services) as stale:
        stale.cookies.set("mw_session", before)
        response = await stale.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_a_pending_session_does_not_open_the_manager(world: World) -> None:
    async with web_client(world.services) as client:
        await enter_password(client, "admin@corp.test")
        response = await client.get("/dashboard")
    assert response.status_code == 303


async def test_the_password_is_asked_again_after_the_sudo_window(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    new = f"/addresses/{aid}/devices/new"
    assert (await admin.get(new)).status_code == 200
    clock.advance(timedelta(minutes=world.services.settings.sudo_minutes, seconds=1))
    asked = await admin.get(new)
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/sudo?next={new}"
    sudo = await admin.get(asked.headers["location"])
    wrong = await admin.client.post(
        "/sudo", data={"csrf": csrf_of(sudo.text), "password": "wrong password", "next": new}
    )
    assert wrong.status_code == 401
    granted = await admin.client.post(
        "/sudo", data={"csrf": csrf_of(sudo.text), "password": ADMIN_PASSWORD, "next": new}
    )
    assert granted.headers["location"] == new
    page = await admin.get(new)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    await admin.client.aclose()


async def test_sign_in_is_rate_limited_before_the_password_is_checked(world: World) -> None:
    async with web_client(world.services) as client:
        token = csrf_of((await client.get("/login")).text)
        for _ in range(5):
            failed = await client.post(
                "/login", data={"csrf": token, "email": "admin@corp.test", "password": "nope"}
            )
            assert failed.status_code == 401
        hashes = world.services.deps.hasher.verifications
        limited = await client.post(
            "/login",
            data={"csrf": token, "email": "admin@corp.test", "password": ADMIN_PASSWORD},
        )
    assert limited.status_code == 429
    assert "too many failed attempts" in limited.text
    assert world.services.deps.hasher.verifications == hashes


async def test_a_user_member_sees_who_can_add_devices(world: World, clock: FrozenClock) -> None:
    aid = await address_id(world)
    await world.services.addresses.add_user(world.admin, aid, "user@corp.test")
    await accept_offers(world.services, world.user)
    theirs = await world.services.devices.add(world.admin, aid, "Phone", "user@corp.test")
    other = await world.services.devices.add(world.admin, aid, "Website")
    user = await signed_in(world, clock, world.user)
    tab = await user.get(f"/addresses/{aid}/devices")
    assert tab.status_code == 200 and "Phone" in tab.text and "Website" not in tab.text
    for path in (
        f"/addresses/{aid}/devices/new",
        f"/addresses/{aid}/devices/{theirs.device.id}/password",
        f"/addresses/{aid}/devices/{theirs.device.id}/rename",
    ):
        page = await user.get(path)
        assert page.status_code == 403, path
        assert "Lena Legal" in page.text and "Adam Admin" in page.text
        assert "What to ask them" in page.text
    hidden = await user.get(f"/addresses/{aid}/devices/{other.device.id}/revoke")
    assert hidden.status_code == 404
    own = await user.get(f"/addresses/{aid}/devices/{theirs.device.id}/revoke")
    assert own.status_code == 200
    await user.client.aclose()


async def test_a_member_of_another_organization_cannot_reach_its_objects(
    world: World, clock: FrozenClock
) -> None:
    services, op = world.services, Actor.operator()
    stranger = await services.accounts.create(op, "eve@other.test", ADMIN_PASSWORD, "Eve")
    org = await services.organizations.create(op, "Other", legal_representative=stranger.email)
    aid = await address_id(world)
    device = await services.devices.add(world.admin, aid, "Website")
    mail_service = await services.mail_services.get(world.admin, world.domain)
    eve = await signed_in(world, clock, Actor(stranger.id, stranger.email))
    for path in (
        f"/mail-services/{mail_service.id}",
        f"/addresses/{aid}/devices",
        f"/addresses/{aid}/users",
        f"/addresses/{aid}/devices/new",
        f"/addresses/{aid}/devices/{device.device.id}/revoke",
        f"/orgs/{world.org_id}",
        f"/orgs/{world.org_id}/audit",
    ):
        page = await eve.get(path)
        assert page.status_code == 404, path
        assert "This page does not exist" in page.text
        assert "info@example.test" not in page.text
    revoke = await eve.post_form(
        f"/orgs/{org.id}", f"/addresses/{aid}/devices/{device.device.id}/revoke", {}
    )
    assert revoke.status_code == 404
    still = await services.devices.get(world.admin, aid, device.device.id)
    assert still.status == "active"
    await eve.client.aclose()


async def test_signing_out_everywhere_ends_every_session(world: World, clock: FrozenClock) -> None:
    assert world.admin.account_id is not None
    secret = await enrol_totp(world.services, world.admin.account_id)
    first = await sign_in(web_client(world.services), "admin@corp.test", secret, clock)
    second = await sign_in(web_client(world.services), "admin@corp.test", secret, clock)
    account = await first.get("/account")
    assert account.text.count("This browser") == 1
    ended = await first.post_form("/account", "/account/sessions/end-all", {})
    assert ended.headers["location"] == "/login"
    assert (await second.get("/dashboard")).status_code == 303
    assert (await first.get("/dashboard")).status_code == 303
    await first.client.aclose()
    await second.client.aclose()


async def test_cookies_are_secure_when_the_public_url_is_https(world: World) -> None:
    services = world.services
    services.settings = services.settings.model_copy(
        update={"public_url": "https://mail.example.test"}
    )
    async with web_client(services) as client:
        response = await client.get("/login")
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


async def test_an_edited_suggestion_is_stored_as_chosen_and_a_weak_one_is_refused(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    new = f"/addresses/{aid}/devices/new"
    form = await admin.get(new)
    weak = await admin.client.post(
        new, data={"csrf": csrf_of(form.text), "name": "Printer", "password": "aaaaaaaaaaaaaaaa"}
    )
    assert weak.status_code == 400 and "repeats too few different characters" in weak.text
    created = await admin.client.post(
        new,
        data={
            "csrf": csrf_of(form.text),
            "name": "Printer",
            "password": "Quartz-Harbor-Lantern-88",
        },
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    devices = await world.services.devices.list(world.admin, aid)
    assert [(d.name, d.password_kind) for d in devices] == [("Printer", "chosen")]
    await admin.client.aclose()
