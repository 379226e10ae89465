"""Helpers for the web manager's tests: an HTTP client on the app, signing in with 2FA."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pyotp

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.signin.totp import SecondFactorService
from mailward.web.app import create_app
from tests.support import ADMIN_PASSWORD, World

BASE_URL = "http://127.0.0.1:8080"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_INPUT = re.compile(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def form_of(html: str) -> dict[str, str]:
    """The named fields of the page's form, with the values the server put in them."""
    return dict(_INPUT.findall(html))


async def enrol_totp(services: Services, account_id: int) -> str:
    """Turn on 2FA for an account as if through the enrolment page; returns the secret."""
    factor = SecondFactorService(services.deps)
    enrolment = await factor.begin_enrolment(account_id)
    code = pyotp.TOTP(enrolment.secret).at(services.clock.now())
    await factor.confirm_enrolment(Actor(account_id, enrolment.email), account_id, code)
    return enrolment.secret


def current_code(secret: str, clock: FrozenClock) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def next_code(secret: str, clock: FrozenClock) -> str:
    """A code of a fresh time step (each code is accepted once)."""
    clock.advance(timedelta(seconds=30))
    return current_code(secret, clock)


def web_client(services: Services, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(services), client=(client_ip, 123))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@dataclass
class SignedInClient:
    client: httpx.AsyncClient

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def post_form(self, page: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Load ``page``, take its CSRF token, post ``data`` to ``action``."""
        token = csrf_of((await self.client.get(page)).text)
        return await self.client.post(action, data={"csrf": token, **data})

    async def form(self, page: str, **values: str) -> dict[str, str]:
        """The fields of ``page``'s form as the server filled them, ``values`` changed."""
        return {**form_of((await self.client.get(page)).text), **values}


async def enter_password(
    client: httpx.AsyncClient, email: str, password: str = ADMIN_PASSWORD
) -> httpx.Response:
    """The first step of signing in: the sign-in page's form with email and password."""
    page = await client.get("/login")
    return await client.post(
        "/login", data={"csrf": csrf_of(page.text), "email": email, "password": password}
    )


async def sign_in(
    client: httpx.AsyncClient,
    email: str,
    secret: str,
    clock: FrozenClock,
    password: str = ADMIN_PASSWORD,
) -> SignedInClient:
    response = await enter_password(client, email, password)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/login/2fa")
    page = await client.get("/login/2fa")
    response = await client.post(
        "/login/2fa", data={"csrf": csrf_of(page.text), "code": next_code(secret, clock)}
    )
    assert response.status_code == 303, response.text
    return SignedInClient(client)


async def signed_in(world: World, clock: FrozenClock, actor: Actor) -> SignedInClient:
    """``actor``, an account of the test world, in the manager, second factor and all."""
    assert actor.account_id is not None
    secret = await enrol_totp(world.services, actor.account_id)
    return await sign_in(web_client(world.services), actor.label, secret, clock)


async def signed_in_admin(world: World, clock: FrozenClock) -> SignedInClient:
    """The test world's administrator in the manager."""
    return await signed_in(world, clock, world.admin)


async def signed_in_admin_at(world: World, clock: FrozenClock) -> tuple[SignedInClient, int]:
    """The administrator in the manager, and the id of the world's address."""
    aid = (await world.services.addresses.get(world.admin, world.address)).id
    return await signed_in_admin(world, clock), aid
