"""Revocation first (issue 13, finding 5): with a smarthost that accepts connections and
never answers, revoking a device through the core, the JSON API or the web manager
still ends its IMAP session at once, its cached password stops working at once, the
request answers at once, and the security notice waits in the durable spool.

Before, the security-notice subscriber relayed inline through the smarthost (30 s
timeout) while the request waited: the revoke took 30 s to answer and the session ended
25.6 s after it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from mailward.clock import FrozenClock
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.mail.outbound import OutboundWorker, smarthost_of
from mailward.mail.spool import SpoolEntry
from mailward.settings import Settings
from mailward.web.app import create_app
from tests.integration.mail_world import MailWorld, RawImap, running_mail
from tests.smarthost import with_smarthost
from tests.support import World, wait_until
from tests.web_support import BASE_URL, enrol_totp, sign_in

PROMPT = 2.0  # seconds; a correctness bound, the old code took 25-30 s


class Blackhole:
    """A smarthost that accepts TCP connections, reads, and never writes a byte."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, port: int) -> None:
        self.server = await asyncio.start_server(self._swallow, "127.0.0.1", port)

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(4096):
            pass

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


@pytest.fixture
async def blackhole(smarthost_port: int) -> AsyncIterator[Blackhole]:
    hole = Blackhole()
    await hole.start(smarthost_port)
    yield hole
    await hole.stop()


@pytest.fixture
async def mail(world: World, blackhole: Blackhole) -> AsyncIterator[MailWorld]:
    async with running_mail(world) as mail:
        yield mail


@pytest.fixture
async def manager(mail: MailWorld) -> AsyncIterator[httpx.AsyncClient]:
    """One web manager app (security notices subscribed once), as a client."""
    transport = httpx.ASGITransport(app=create_app(mail.services))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def idling(mail: MailWorld, device: str) -> RawImap:
    client = await RawImap.connect(mail.ports.imaps)
    assert b"OK" in await client.login(mail.world.address, mail.passwords[device])
    await client.idle()
    return client


async def login_answer(mail: MailWorld, password: str) -> bytes:
    client = await RawImap.connect(mail.ports.imaps)
    try:
        return await client.login(mail.world.address, password)
    finally:
        await client.close()


async def revoke_notice(mail: MailWorld, device_name: str) -> SpoolEntry:
    """The revoke notice of ``device_name`` once it is in the spool (within PROMPT)."""
    spool = mail.services.outbox.spool
    found: list[SpoolEntry] = []

    async def queued() -> bool:
        for entry in await asyncio.to_thread(spool.entries):
            content = spool.content(entry)
            if b"revoked" in content and device_name.encode() in content:
                found.append(entry)
        return bool(found)

    await wait_until(queued, PROMPT, f"the revoke notice of {device_name} in the spool")
    return found[0]


async def assert_revoked_promptly(mail: MailWorld, name: str, revoke: object) -> None:
    """Session BYE, request answered, password refused: each within PROMPT seconds."""
    password = mail.passwords[name]
    session = await idling(mail, name)
    assert b"OK" in await login_answer(mail, password)  # now in the credential cache
    try:
        started = time.monotonic()
        await asyncio.wait_for(revoke, PROMPT)  # type: ignore[arg-type]
        answered = time.monotonic() - started
        assert b"BYE" in await session.wait_for(b"BYE", patience=PROMPT)
        ended = time.monotonic() - started
        assert b"AUTHENTICATIONFAILED" in await login_answer(mail, password)
    finally:
        await session.close()
    assert answered < PROMPT and ended < PROMPT


async def test_a_core_revoke_ends_the_session_at_once_and_spools_the_notice(
    mail: MailWorld, manager: httpx.AsyncClient, blackhole: Blackhole
) -> None:
    await mail.add_device(mail.world.address, "laptop")
    revoke = mail.services.devices.revoke(mail.world.admin, mail.world.address, "laptop")
    await assert_revoked_promptly(mail, "laptop", revoke)
    entry = await revoke_notice(mail, "laptop")
    assert entry.mail_from == mail.services.settings.sender_address
    assert "admin@corp.test" in entry.recipients


async def test_an_api_revoke_answers_at_once_with_the_smarthost_blackholed(
    mail: MailWorld, manager: httpx.AsyncClient
) -> None:
    device = await mail.services.devices.add(mail.world.admin, mail.world.address, "phone")
    mail.passwords["phone"] = device.password
    token = await ApiTokenService(mail.services.deps).create(
        mail.world.admin, mail.world.org_id, "panel"
    )
    path = f"/api/v1/addresses/{device.device.address_id}/devices/{device.device.id}"
    bearer = {"Authorization": f"Bearer {token.secret}"}
    revoke = manager.delete(path, headers=bearer)
    await assert_revoked_promptly(mail, "phone", revoke)
    await revoke_notice(mail, "phone")


async def test_a_web_revoke_answers_at_once_with_the_smarthost_blackholed(
    mail: MailWorld, manager: httpx.AsyncClient, clock: FrozenClock
) -> None:
    device = await mail.services.devices.add(mail.world.admin, mail.world.address, "tablet")
    mail.passwords["tablet"] = device.password
    assert mail.world.admin.account_id is not None
    secret = await enrol_totp(mail.services, mail.world.admin.account_id)
    admin = await sign_in(manager, mail.world.admin.label, secret, clock)
    page = f"/addresses/{device.device.address_id}/devices/{device.device.id}/revoke"
    revoke = admin.post_form(page, page, {})
    await assert_revoked_promptly(mail, "tablet", revoke)
    await revoke_notice(mail, "tablet")


async def test_the_spooled_notice_is_retried_later_not_lost(
    mail: MailWorld, manager: httpx.AsyncClient, blackhole: Blackhole
) -> None:
    await mail.add_device(mail.world.address, "old phone")
    await mail.services.devices.revoke(mail.world.admin, mail.world.address, "old phone")
    entry = await revoke_notice(mail, "old phone")
    smarthost = smarthost_of(mail.services.settings)
    assert smarthost is not None
    outbox = mail.services.outbox
    impatient = OutboundWorker(
        outbox.spool, replace(smarthost, timeout=0.3), outbox.store, outbox.directory, "mx"
    )
    await impatient.attempt(entry)
    [again] = [e for e in outbox.spool.entries() if e.id == entry.id]
    assert again.attempts == 1 and again.due > mail.services.clock.now()
    assert "Timeout" in again.last_error and blackhole.connections >= 1
