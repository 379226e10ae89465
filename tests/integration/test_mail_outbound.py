"""Mail for other domains: spooled durably, handed to the smarthost, retried, bounced
to the sender's INBOX after the retry period."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mailward.clock import FrozenClock
from mailward.settings import Settings
from tests.integration.mail_world import (
    MailWorld,
    client_tls,
    message,
    running_mail,
)
from tests.smarthost import Collector, with_smarthost
from tests.support import World, wait_until

REMOTE = "someone@elsewhere.test"


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    async with running_mail(world, devices=("website",)) as mail:
        yield mail


def submit(mail: MailWorld, to: str) -> None:
    client = smtplib.SMTP("127.0.0.1", mail.ports.submission, timeout=10)
    try:
        client.starttls(context=client_tls())
        client.login(mail.world.address, mail.passwords["website"])
        client.sendmail(mail.world.address, [to], message(mail.world.address, to, "out"))
    finally:
        client.quit()


async def test_mail_for_another_domain_goes_through_the_smarthost(
    mail: MailWorld, outside: Collector
) -> None:
    await asyncio.to_thread(submit, mail, REMOTE)
    await asyncio.wait_for(outside.received.wait(), 10)
    sender, recipients, content = outside.messages[0]
    assert sender == mail.world.address and recipients == [REMOTE]
    assert b"Subject: out" in content and b"Message-ID:" in content
    spool = mail.server.spool
    assert spool is not None
    # the entry goes once the smarthost's 250 came back
    await wait_until(lambda: spool.entries() == [], what="the spool emptied")


async def test_an_unreachable_smarthost_means_retries_then_a_bounce(
    mail: MailWorld, clock: FrozenClock
) -> None:
    await asyncio.to_thread(submit, mail, REMOTE)
    spool, worker = mail.server.spool, mail.server.outbound
    assert spool is not None and worker is not None
    # the first attempt fails at once: nothing listens there
    await wait_until(lambda: bool(spool.entries()) and spool.entries()[0].attempts > 0)
    assert spool.entries()[0].last_error
    clock.advance(timedelta(days=6))
    await worker.run_once()
    assert spool.entries() == []
    sender_id = await mail.server.directory.address_id(mail.world.address)
    assert sender_id is not None
    bounced = list((mail.server.store.inbox_path(sender_id) / "new").iterdir())
    assert len(bounced) == 1
    assert b"could not be delivered" in bounced[0].read_bytes()
