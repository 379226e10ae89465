"""A security notice queued for the smarthost and given up on later (the smarthost
refused it, or did not take it within the retry period) is shown to the administrators
like one that could not be sent at once: in the audit log and on the address's Devices
tab. The smarthost is a real SMTP server that refuses every recipient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mailward.clock import FrozenClock
from mailward.core.audit.events import AuditEventView, AuditFilter, AuditTag
from mailward.mail.outbound import OutboundWorker
from mailward.settings import Settings
from tests.smarthost import Picky, Refuser, running_handler, with_smarthost
from tests.support import World
from tests.web_support import enrol_totp, sign_in, web_client


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


@pytest.fixture
async def refusing(smarthost_port: int) -> AsyncIterator[Refuser]:
    async for refuser in running_handler(smarthost_port, Refuser()):
        yield refuser


async def notice_queued(world: World, device: str) -> OutboundWorker:
    """Add ``device``; its security notice (to the administrators at corp.test, not a
    local domain) is in the outbound spool when this returns."""
    services = world.services
    services.send_security_notices()
    added = await services.devices.add(world.admin, world.address, device)
    await services.events.close()  # the background notice has reached the spool
    [entry] = services.outbox.spool.entries()
    assert entry.extra["notice"] == "add" and entry.extra["device"] == device
    assert added.password not in str(entry.extra)  # names and ids only
    worker = services.outbox.worker
    assert worker is not None
    return worker


async def not_sent(world: World) -> list[AuditEventView]:
    query = AuditFilter(organization_id=world.org_id, action=AuditTag.NOTICE_NOT_SENT)
    return await world.services.audit.list(world.admin, query)


async def test_a_notice_the_smarthost_refuses_is_shown_to_the_administrators(
    world: World, refusing: Refuser, clock: FrozenClock
) -> None:
    worker = await notice_queued(world, "Front desk")
    await worker.run_once()
    assert "admin@corp.test" in refusing.refused
    assert world.services.outbox.spool.entries() == []
    [event] = await not_sent(world)
    assert event.target == world.address and event.device_id is not None
    assert event.details["notice"] == "add" and event.details["device"] == "Front desk"
    assert "admin@corp.test" in event.details["to"]
    assert event.details["reason"].startswith("refused by the smarthost: ")
    assert "550" in event.details["reason"]
    secret = await enrol_totp(world.services, world.admin.account_id or 0)
    async with web_client(world.services) as client:
        manager = await sign_in(client, world.admin.label, secret, clock)
        address_id = event.address_id
        page = await manager.get(f"/addresses/{address_id}/devices")
    assert "notice-not-sent" in page.text
    assert "“Front desk” could not be sent to" in page.text
    assert "refused by the smarthost" in page.text


async def test_a_notice_the_smarthost_never_takes_is_shown_after_the_retry_period(
    world: World, clock: FrozenClock
) -> None:
    worker = await notice_queued(world, "Laptop")  # nobody listens at the smarthost's port
    await worker.run_once()
    [entry] = world.services.outbox.spool.entries()
    assert entry.attempts == 1 and await not_sent(world) == []  # retried, not given up
    clock.advance(timedelta(days=6))
    await worker.run_once()
    assert world.services.outbox.spool.entries() == []
    [event] = await not_sent(world)
    assert event.details["device"] == "Laptop"
    assert event.details["reason"].startswith("not taken by the smarthost within 5 days: ")


async def test_a_refused_message_that_is_no_notice_records_nothing(
    world: World, refusing: Refuser
) -> None:
    spool = world.services.outbox.spool
    await spool.enqueue("info@example.test", ["someone@elsewhere.test"], b"Subject: hi\r\n\r\nhi")
    worker = world.services.outbox.worker
    assert worker is not None
    await worker.run_once()
    assert refusing.refused == ["someone@elsewhere.test"] and spool.entries() == []
    assert await not_sent(world) == []


async def test_a_notice_recipient_the_smarthost_refuses_alone_is_shown_alone(
    world: World, smarthost_port: int
) -> None:
    picky = Picky({"admin@corp.test": ["550 5.1.1 no such mailbox here"]})
    async for smarthost in running_handler(smarthost_port, picky):
        worker = await notice_queued(world, "Tablet")
        await worker.run_once()
        assert "admin@corp.test" not in [r for _, rs, _ in smarthost.messages for r in rs]
        assert smarthost.messages  # the other recipients have it
    assert world.services.outbox.spool.entries() == []
    [event] = await not_sent(world)
    assert event.details["device"] == "Tablet" and event.details["to"] == "admin@corp.test"
    assert event.details["reason"] == "refused by the smarthost: 550 5.1.1 no such mailbox here"
