"""Mail for other domains: spooled durably, handed to the smarthost, retried, bounced
to the sender's INBOX after the retry period."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from mailward.clock import FrozenClock
from mailward.settings import Settings
from tests.integration.test_mail_fixtures import (
    MailWorld,
    client_tls,
    message,
    populate,
    running_mail,
)
from tests.support import World, free_port

REMOTE = "someone@elsewhere.test"


class Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        self.received.set()
        return "250 OK"


@pytest.fixture
def smarthost_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return settings.model_copy(
        update={"smarthost": "127.0.0.1", "smarthost_port": smarthost_port,
                "smarthost_starttls": False}
    )  # fmt: skip


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    await populate(world)
    async with running_mail(world) as mail:
        await mail.add_device(world.address, "website")
        yield mail


async def start_smarthost(port: int, collector: Collector) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(collector, loop=loop), "127.0.0.1", port)


def submit(mail: MailWorld, to: str) -> None:
    client = smtplib.SMTP("127.0.0.1", mail.ports.submission, timeout=10)
    try:
        client.starttls(context=client_tls())
        client.login(mail.world.address, mail.passwords["website"])
        client.sendmail(mail.world.address, [to], message(mail.world.address, to, "out"))
    finally:
        client.quit()


async def test_mail_for_another_domain_goes_through_the_smarthost(
    mail: MailWorld, smarthost_port: int
) -> None:
    collector = Collector()
    smarthost = await start_smarthost(smarthost_port, collector)
    try:
        await asyncio.to_thread(submit, mail, REMOTE)
        await asyncio.wait_for(collector.received.wait(), 10)
    finally:
        smarthost.close()
    sender, recipients, content = collector.messages[0]
    assert sender == mail.world.address and recipients == [REMOTE]
    assert b"Subject: out" in content and b"Message-ID:" in content
    spool = mail.server.spool
    assert spool is not None
    for _ in range(200):  # the entry goes once the smarthost's 250 came back
        if not spool.entries():
            break
        await asyncio.sleep(0.05)
    assert spool.entries() == []


async def test_an_unreachable_smarthost_means_retries_then_a_bounce(
    mail: MailWorld, clock: FrozenClock
) -> None:
    await asyncio.to_thread(submit, mail, REMOTE)
    spool, worker = mail.server.spool, mail.server.outbound
    assert spool is not None and worker is not None
    for _ in range(200):  # the first attempt fails at once: nothing listens there
        if spool.entries() and spool.entries()[0].attempts > 0:
            break
        await asyncio.sleep(0.05)
    assert spool.entries()[0].last_error
    clock.advance(timedelta(days=6))
    await worker.run_once()
    assert spool.entries() == []
    sender_id = await mail.server.directory.address_id(mail.world.address)
    assert sender_id is not None
    bounced = list((mail.server.store.inbox_path(sender_id) / "new").iterdir())
    assert len(bounced) == 1
    assert b"could not be delivered" in bounced[0].read_bytes()
