"""Finding 4 (second half): sign-in limits stop guessing, not owners. Failures from
other networks never stop a person who signs in with the right password and code from
a network where they completed a sign-in before; IPv6 clients count by /64."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from mailward.clock import FrozenClock
from mailward.web.app import create_app
from tests.support import ADMIN_PASSWORD, World
from tests.web_support import BASE_URL, csrf_of, enrol_totp, next_code

OWNER_IP = "192.0.2.10"


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def try_password(app: FastAPI, ip: str, email: str, password: str) -> httpx.Response:
    async with client_from(app, ip) as client:
        token = csrf_of((await client.get("/login")).text)
        return await client.post(
            "/login", data={"csrf": token, "email": email, "password": password}
        )


async def full_sign_in(
    app: FastAPI, ip: str, email: str, secret: str, clock: FrozenClock
) -> httpx.Response:
    """Password then code from ``ip``; the last response (303 to the dashboard when in)."""
    async with client_from(app, ip) as client:
        token = csrf_of((await client.get("/login")).text)
        first = await client.post(
            "/login", data={"csrf": token, "email": email, "password": ADMIN_PASSWORD}
        )
        if first.status_code != 303:
            return first
        page = await client.get("/login/2fa")
        return await client.post(
            "/login/2fa", data={"csrf": csrf_of(page.text), "code": next_code(secret, clock)}
        )


async def owners_manager(world: World) -> tuple[FastAPI, str, str]:
    """The web manager, and the email and TOTP secret of its owner (the admin)."""
    assert world.admin.account_id is not None
    secret = await enrol_totp(world.services, world.admin.account_id)
    return create_app(world.services), world.admin.label, secret


async def test_failures_from_other_networks_do_not_lock_the_owner_out(
    world: World, clock: FrozenClock
) -> None:
    app, email, secret = await owners_manager(world)
    done = await full_sign_in(app, OWNER_IP, email, secret, clock)
    assert done.headers["location"] == "/dashboard"
    for n in range(1, 8):
        failed = await try_password(app, f"203.0.113.{n}", email, "guess number one")
        assert failed.status_code in (401, 429)
    assert failed.status_code == 429  # the email's own limit works against the guessers
    again = await full_sign_in(app, OWNER_IP, email, secret, clock)
    assert again.status_code == 303 and again.headers["location"] == "/dashboard"
    elsewhere = await try_password(app, "198.51.100.99", email, ADMIN_PASSWORD)
    assert elsewhere.status_code == 429  # a new network is still limited


async def test_guessing_from_the_owners_network_is_still_limited(
    world: World, clock: FrozenClock
) -> None:
    app, email, secret = await owners_manager(world)
    await full_sign_in(app, OWNER_IP, email, secret, clock)
    statuses = [(await try_password(app, OWNER_IP, email, "wrong")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    hashes = world.services.deps.hasher.verifications
    limited = await try_password(app, OWNER_IP, email, ADMIN_PASSWORD)
    assert limited.status_code == 429
    assert world.services.deps.hasher.verifications == hashes


async def test_ipv6_clients_are_counted_by_their_64_network(world: World) -> None:
    app = create_app(world.services)
    for n in range(1, 21):
        failed = await try_password(app, f"2001:db8:1:2::{n:x}", f"nobody{n}@corp.test", "x")
        assert failed.status_code == 401
    same_network = await try_password(app, "2001:db8:1:2:ffff::1", "n@corp.test", "x")
    assert same_network.status_code == 429
    other_network = await try_password(app, "2001:db8:1:3::1", "n@corp.test", "x")
    assert other_network.status_code == 401
