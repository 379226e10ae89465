"""One outbound path: every email Mailward sends (security notices, invitations, codes)
goes through the durable spool of mail/outbound.py; no second SMTP client anywhere.
One change makes one notice, whichever process reads it; revocation subscribers run
before, and regardless of, slow or failing ones; bounces of notices never loop."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

import mailward
from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import DeviceEventHub
from mailward.mail.outbound import OutboundWorker, Smarthost
from mailward.mail.outbox import OutboxMailer, send_security_notices
from mailward.settings import Settings
from tests.support import World, free_port, wait_until

SRC = Path(mailward.__file__).parent
SMTP_CLIENT = re.compile(r"^\s*(import|from)\s+(aiosmtplib|smtplib)\b", re.MULTILINE)


def test_only_the_outbound_worker_speaks_smtp_to_other_servers() -> None:
    users = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if SMTP_CLIENT.search(path.read_text()) or "aiosmtplib." in path.read_text()
    )
    assert users == ["mail/outbound.py"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    port = free_port()  # nothing listens: the spool keeps the mail, nothing waits on it
    return settings.model_copy(update={"smarthost": "127.0.0.1", "smarthost_port": port})


async def test_an_invitation_to_a_remote_address_is_queued_and_the_page_says_so(
    world: World,
) -> None:
    message = EmailMessage()
    message["From"] = world.services.settings.sender_address
    message["To"] = "ursula@elsewhere.test"
    message.set_content("link")
    result = await OutboxMailer(world.services.outbox).send(message)
    assert result.ok and result.queued == ["ursula@elsewhere.test"] and not result.delivered
    assert "is queued for delivery" in result.summary("The invitation")
    [entry] = world.services.outbox.spool.entries()
    assert entry.recipients == ["ursula@elsewhere.test"]


async def test_a_change_read_from_the_feed_makes_no_second_notice(world: World) -> None:
    send_security_notices(world.services)
    device = await world.services.devices.add(world.admin, world.address, "CRM")
    notice = DeviceChangeNotice(device.device.id, device.device.address_id, "revoke", 10**6)
    await world.services.events.changed_elsewhere(notice)  # as another node's change
    await world.services.events.close()
    spool = world.services.outbox.spool
    subjects = [spool.content(e).split(b"Subject: ")[1].split(b"\n")[0] for e in spool.entries()]
    assert len(subjects) == 1 and b"created" in subjects[0]


async def test_revocation_runs_first_and_a_hanging_subscriber_delays_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = DeviceEventHub(revocation_seconds=0.2)
    order: list[str] = []
    never = asyncio.Event()

    async def hangs(notice: DeviceChangeNotice) -> None:
        order.append("notice")
        await never.wait()

    async def fails(notice: DeviceChangeNotice) -> None:
        raise RuntimeError("broken subscriber")

    async def drops_cache(notice: DeviceChangeNotice) -> None:
        order.append("cache")

    async def stuck_kick(notice: DeviceChangeNotice) -> None:
        await never.wait()

    hub.subscribe(hangs)
    hub.subscribe(fails)
    hub.subscribe_revocation(stuck_kick)
    hub.subscribe_revocation(drops_cache)
    async with asyncio.timeout(2):
        await hub.device_changed(DeviceChangeNotice(1, 1, "revoke", 1))
        await hub.device_changed(DeviceChangeNotice(2, 1, "revoke", 2))
    assert order[:1] == ["cache"] and order.count("cache") == 2
    await wait_until(lambda: "notice" in order, what="the other subscribers ran")
    await hub.close(grace=0.1)
    assert "broken subscriber" in caplog.text and "still runs after" in caplog.text


async def test_a_bounce_of_a_notice_to_a_non_local_sender_is_dropped_not_spooled(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = world.services.outbox
    await outbox.spool.enqueue("mailward@corp.test", ["gone@elsewhere.test"], b"notice")
    smarthost = Smarthost("127.0.0.1", free_port(), None, None, False, timeout=1)
    worker = OutboundWorker(
        outbox.spool, smarthost, outbox.store, outbox.directory, "mx", timedelta(0)
    )
    with caplog.at_level(logging.INFO, logger="mailward.mail.outbound"):
        await worker.run_once()
    assert outbox.spool.entries() == []
    assert "bounce dropped" in caplog.text
