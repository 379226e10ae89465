"""Placement of addresses on mailbox backends, the move use case, and the auth
endpoint's answers for Dovecot proxies; on SQLite and PostgreSQL. (Dovecot itself:
test_dovecot_proxy.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailward.auth.authenticator import Authenticator
from mailward.auth.mailboxes import mailbox_locator
from mailward.auth.secret import auth_http_secret
from mailward.auth.server import make_auth_http_app, serve_auth_http
from mailward.core.access.actors import Actor
from mailward.core.addresses.placement import MoveFailed
from mailward.core.addresses.rule import PlacementRule
from mailward.core.addresses.service import AddressService
from mailward.core.audit.events import AuditTag
from mailward.db.models import Address, AuditEvent
from mailward.errors import InvalidInput, NotAllowed, NotFound
from mailward.integrations.mailbox_move import DoveadmMailboxMover
from mailward.settings import MailboxBackend, Settings
from tests.integration.auth_devices import add_generated
from tests.support import World, free_port, make_settings

BACKENDS = {
    "store1": MailboxBackend(host="10.0.0.11"),
    "store2": MailboxBackend(host="10.0.0.12", imap_port=10143, lmtp_port=10024),
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, mailbox_backends=BACKENDS)


class RecordingMover:
    """The doveadm side of a move, written down instead of run (Dovecot's own run is in
    test_dovecot_proxy.py)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.steps: list[tuple[str, ...]] = []

    async def mirror(self, email: str, source: str, target: str) -> None:
        await self._step("mirror", email, source, target)

    async def copy(self, email: str, source: str, target: str) -> None:
        await self._step("copy", email, source, target)

    async def _step(self, step: str, email: str, source: str, target: str) -> None:
        placed = await self.world.services.placements.placement(Actor.operator(), email)
        self.steps.append((step, source, target, f"placed on {placed.backend}"))

    async def end_sessions(self, email: str, device_ids: Sequence[int], backend: str) -> None:
        self.steps.append(("end sessions", backend, *map(str, device_ids)))


async def placed(world: World, email: str) -> str | None:
    return (await world.services.placements.placement(world.admin, email)).backend


async def test_new_addresses_go_to_the_least_used_backend(world: World) -> None:
    assert await placed(world, world.address) == "store1"  # both empty: the first listed
    for local in ("a", "b", "c"):
        await world.services.addresses.create(world.admin, world.domain, local)
    found = [await placed(world, f"{local}@example.test") for local in ("a", "b", "c")]
    assert found == ["store2", "store1", "store2"]


async def test_a_fixed_placement_puts_new_addresses_on_that_backend(world: World) -> None:
    fixed = AddressService(world.services.deps, PlacementRule(tuple(BACKENDS), fixed="store2"))
    for local in ("a", "b"):
        await fixed.create(world.admin, world.domain, local)
        assert await placed(world, f"{local}@example.test") == "store2"


async def test_without_backends_nothing_is_placed_and_the_first_backend_holds_it_later(
    world: World,
) -> None:
    one_machine = AddressService(world.services.deps)  # no rule: one machine
    view = await one_machine.create(world.admin, world.domain, "solo")
    async with world.services.db.unit_of_work() as uow:
        address = await uow.session.get(Address, view.id)
        assert address is not None and address.mailbox_backend is None
    assert await placed(world, view.email) == "store1"  # once backends exist


async def test_a_move_mirrors_switches_copies_ends_the_old_sessions_and_copies_again(
    world: World,
) -> None:
    mover = RecordingMover(world)
    view = await world.services.placements.move(world.admin, world.address, "store2", mover)
    assert view.backend == "store2" and await placed(world, world.address) == "store2"
    assert mover.steps == [
        ("mirror", "store1", "store2", "placed on store1"),
        ("copy", "store1", "store2", "placed on store2"),
        ("end sessions", "store1"),
        ("copy", "store1", "store2", "placed on store2"),
    ]
    async with world.services.db.unit_of_work() as uow:
        event = await uow.session.scalar(
            select(AuditEvent).where(AuditEvent.action == AuditTag.ADDRESS_MOVE)
        )
    assert event is not None and event.target == "info@example.test: store1 -> store2"


async def test_a_move_ends_the_sessions_of_the_address_s_own_devices_by_id(
    world: World,
) -> None:
    """A local part may start with '-' or hold '*' (kick would read an option or a mask
    matching every address of the domain): the sessions are named by device id."""
    await add_generated(world, "Phone of info@")
    odd = await world.services.addresses.create(world.admin, world.domain, "-a*b")
    laptop, _ = await add_generated(world, "Laptop", address=odd.email)
    phone, _ = await add_generated(world, "Phone", address=odd.email)
    await world.services.devices.revoke(world.admin, odd.email, phone)
    mover = RecordingMover(world)
    assert await placed(world, odd.email) == "store2"  # the least used
    await world.services.placements.move(world.admin, odd.email, "store1", mover)
    assert mover.steps[2] == ("end sessions", "store2", str(laptop), str(phone))


async def test_a_move_is_refused_clearly(world: World) -> None:
    mover = RecordingMover(world)
    moves = world.services.placements
    with pytest.raises(InvalidInput, match="no backend 'store9'"):
        await moves.move(world.admin, world.address, "store9", mover)
    with pytest.raises(InvalidInput, match="already on store1"):
        await moves.move(world.admin, world.address, "store1", mover)
    with pytest.raises((NotAllowed, NotFound)):
        await moves.move(world.user, world.address, "store2", mover)
    assert mover.steps == []


@pytest.mark.parametrize("email", ["a*b@example.test", "who?@example.test"])
async def test_doveadm_is_never_given_an_address_it_would_read_as_a_mask(email: str) -> None:
    mover = DoveadmMailboxMover(BACKENDS, doveadm="/nonexistent/doveadm")
    for step in (mover.mirror, mover.copy):
        with pytest.raises(MoveFailed, match="wildcards"):
            await step(email, "store1", "store2")


def test_settings_refuse_a_placement_on_an_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither least-used nor a backend"):
        make_settings(tmp_path, "sqlite://", mailbox_backends=BACKENDS, mailbox_placement="x")
    with pytest.raises(ValueError, match="bad mailbox backend name"):
        make_settings(tmp_path, "sqlite://", mailbox_backends={"a b": BACKENDS["store1"]})


@pytest.fixture
async def endpoint(world: World, auth: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    settings = world.services.settings
    app = make_auth_http_app(auth, settings, None, mailbox_locator(world.services.db, settings))
    server = await serve_auth_http(app, settings, "127.0.0.1", free_port())
    headers = {"X-Mailward-Secret": auth_http_secret(settings)}
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            yield client
    finally:
        await server.stop()


async def test_the_endpoint_names_the_backend_of_a_login_for_its_protocol(
    endpoint: httpx.AsyncClient, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    await world.services.placements.move(
        world.admin, world.address, "store2", RecordingMover(world)
    )
    login = {"user": world.address, "password": password, "remote_ip": "192.0.2.1"}
    imap = (await endpoint.post("/auth/dovecot", json=login | {"service": "imap"})).json()
    assert imap == {
        "result": "ok",
        "device_id": device,
        "user": world.address,
        "host": "10.0.0.12",
        "port": 10143,
    }
    pop3 = (await endpoint.post("/auth/dovecot", json=login | {"service": "pop3"})).json()
    assert (pop3["host"], pop3["port"]) == ("10.0.0.12", 110)
    smtp = (await endpoint.post("/auth/dovecot", json=login | {"service": "smtp"})).json()
    assert smtp["result"] == "ok" and "host" not in smtp  # SMTP AUTH is not proxied


async def test_the_endpoint_names_the_backend_of_a_recipient_for_the_proxys_lmtp(
    endpoint: httpx.AsyncClient, world: World
) -> None:
    found = await endpoint.post("/auth/dovecot/mailbox", json={"user": "INFO@example.test"})
    assert found.json() == {
        "result": "ok",
        "user": "INFO@example.test",
        "host": "10.0.0.11",
        "port": 24,
    }
    unknown = await endpoint.post("/auth/dovecot/mailbox", json={"user": "nobody@example.test"})
    assert unknown.json() == {"result": "fail"}
    bad = await endpoint.post("/auth/dovecot/mailbox", json={"user": "not an address"})
    assert bad.json() == {"result": "fail"}
    empty = await endpoint.post("/auth/dovecot/mailbox", json={"user": ""})
    assert empty.status_code == 400


class FailingAfterSwitch(RecordingMover):
    async def end_sessions(self, email: str, device_ids: Sequence[int], backend: str) -> None:
        raise MoveFailed("doveadm kick on store1 failed: no anvil")


async def test_a_move_that_fails_after_the_switch_says_where_the_mailbox_is(
    world: World,
) -> None:
    mover = FailingAfterSwitch(world)
    with pytest.raises(MoveFailed, match="already placed on store2 and store1 keeps its copy"):
        await world.services.placements.move(world.admin, world.address, "store2", mover)
    assert await placed(world, world.address) == "store2"
