"""Passkeys through the manager's routes (a software authenticator in place of the
browser): adding and removing one needs sudo, and each sends the account a notice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.passkeys.service import PasskeyView
from mailward.core.signin.limits import IP_LIMIT
from mailward.settings import Settings
from tests.passkey_authenticator import SoftAuthenticator
from tests.support import World, free_port
from tests.web_support import SignedInClient, csrf_of, signed_in_admin, web_client

PAGE = "/account/passkeys"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A smarthost nobody listens on and no outbound worker: notices stay in the spool."""
    return settings.model_copy(update={"smarthost": "127.0.0.1", "smarthost_port": free_port()})


def notices(services: Services) -> list[bytes]:
    spool = services.outbox.spool
    return [spool.content(entry) for entry in spool.entries()]


async def add_passkey(admin: SignedInClient, services: Services, name: str) -> None:
    """A new software passkey added on the account's passkey page (password recent)."""
    key = SoftAuthenticator(services.passkeys.rp.id, services.passkeys.rp.origin)
    csrf = csrf_of((await admin.get(PAGE)).text)
    options = await admin.client.post(f"{PAGE}/options", data={"csrf": csrf})
    assert options.status_code == 200 and options.headers["content-type"] == "application/json"
    answer = {"csrf": csrf, "name": name, "credential": key.create(options.text)}
    added = await admin.client.post(PAGE, data=answer)
    assert added.status_code == 200 and added.json() == {"next": f"{PAGE}?notice=added"}


@pytest.fixture
async def with_passkey(
    world: World, clock: FrozenClock
) -> AsyncIterator[tuple[SignedInClient, PasskeyView]]:
    """The administrator in the manager, with one passkey just added there."""
    admin = await signed_in_admin(world, clock)
    await add_passkey(admin, world.services, "Laptop")
    (passkey,) = await world.services.passkeys.list_for(world.admin.account_id or 0)
    yield admin, passkey
    await admin.client.aclose()


async def test_adding_and_removing_a_passkey_tell_the_account(
    world: World, with_passkey: tuple[SignedInClient, PasskeyView]
) -> None:
    services = world.services
    admin, passkey = with_passkey
    (added,) = notices(services)
    assert b"To: admin@corp.test" in added and b"A passkey was added" in added
    removed = await admin.post_form(PAGE, f"{PAGE}/{passkey.id}/remove", {})
    assert removed.status_code == 303 and removed.headers["location"] == f"{PAGE}?notice=removed"
    assert any(b"A passkey was removed" in n for n in notices(services))


async def test_adding_or_removing_a_passkey_needs_the_password_again(
    world: World, clock: FrozenClock, with_passkey: tuple[SignedInClient, PasskeyView]
) -> None:
    services = world.services
    admin, passkey = with_passkey
    csrf = csrf_of((await admin.get(PAGE)).text)
    clock.advance(timedelta(minutes=services.settings.sudo_minutes, seconds=1))
    for action in (f"{PAGE}/options", f"{PAGE}/{passkey.id}/remove"):
        asked = await admin.client.post(action, data={"csrf": csrf})
        assert asked.status_code == 303 and asked.headers["location"].startswith("/sudo?next=")
    assert len(await services.passkeys.list_for(world.admin.account_id or 0)) == 1


async def test_refused_passkey_answers_count_as_failed_sign_ins_of_the_network(
    world: World,
) -> None:
    client = web_client(world.services, client_ip="203.0.113.9")
    csrf = csrf_of((await client.get("/login")).text)
    stranger = SoftAuthenticator(world.services.passkeys.rp.id, world.services.passkeys.rp.origin)
    statuses = []
    for _ in range(IP_LIMIT.max + 1):
        options = await client.post("/login/passkey/options", data={"csrf": csrf})
        answer = {"csrf": csrf, "credential": stranger.get(options.text)}
        statuses.append((await client.post("/login/passkey", data=answer)).status_code)
    await client.aclose()
    assert statuses == [401] * IP_LIMIT.max + [429]
