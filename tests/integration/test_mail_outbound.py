"""Mail for other domains: spooled durably, handed to the smarthost, retried, bounced
to the sender's INBOX after the retry period."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from mailward.clock import FrozenClock
from mailward.settings import Settings
from tests.integration.mail_world import (
    MailWorld,
    message,
    submission,
)
from tests.smarthost import Collector, Picky, running_handler, with_smarthost
from tests.support import wait_until

REMOTE = "someone@elsewhere.test"
OTHER = "nobody@elsewhere.test"


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


def submit(mail: MailWorld, *to: str) -> None:
    client = submission(mail.ports.submission)
    try:
        client.login(mail.world.address, mail.passwords["laptop"])
        content = message(mail.world.address, ", ".join(to), "out")
        client.sendmail(mail.world.address, list(to), content)
    finally:
        client.quit()


@pytest.fixture
async def picky(request: pytest.FixtureRequest, smarthost_port: int) -> AsyncIterator[Picky]:
    """A smarthost answering OTHER with the test's ``request.param`` answers."""
    async for smarthost in running_handler(smarthost_port, Picky({OTHER: list(request.param)})):
        yield smarthost


async def bounces(mail: MailWorld) -> list[bytes]:
    sender_id = await mail.server.directory.address_id(mail.world.address)
    assert sender_id is not None
    new = mail.server.store.inbox_path(sender_id) / "new"
    return [path.read_bytes() for path in new.iterdir()] if new.exists() else []


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


@pytest.mark.parametrize("picky", [["550 5.1.1 no such mailbox here"]], indirect=True)
async def test_a_recipient_the_smarthost_refuses_for_good_is_bounced_the_other_gets_it(
    mail: MailWorld, picky: Picky
) -> None:
    await asyncio.to_thread(submit, mail, REMOTE, OTHER)
    await asyncio.wait_for(picky.received.wait(), 10)
    assert [recipients for _, recipients, _ in picky.messages] == [[REMOTE]]
    spool = mail.server.spool
    assert spool is not None
    await wait_until(lambda: spool.entries() == [], what="the spool emptied")
    [bounce] = await bounces(mail)
    assert b"multipart/report; report-type=delivery-status" in bounce
    assert f"Final-Recipient: rfc822; {OTHER}".encode() in bounce
    assert b"Status: 5.1.1" in bounce and b"smtp; 550 5.1.1 no such mailbox here" in bounce
    assert f"rfc822; {REMOTE}".encode() not in bounce  # it was delivered
    assert b"Subject: out" in bounce  # the returned message's headers


@pytest.mark.parametrize("picky", [["451 4.3.0 try again later"]], indirect=True)
async def test_a_recipient_the_smarthost_refuses_for_now_alone_is_retried(
    mail: MailWorld, picky: Picky, clock: FrozenClock
) -> None:
    await asyncio.to_thread(submit, mail, REMOTE, OTHER)
    await asyncio.wait_for(picky.received.wait(), 10)
    spool, worker = mail.server.spool, mail.server.outbound
    assert spool is not None and worker is not None
    await wait_until(lambda: bool(spool.entries()) and spool.entries()[0].attempts > 0)
    [entry] = spool.entries()
    assert entry.recipients == [OTHER] and "451 4.3.0 try again later" in entry.last_error
    clock.advance(timedelta(minutes=2))
    await worker.run_once()
    assert spool.entries() == []
    assert [recipients for _, recipients, _ in picky.messages] == [[REMOTE], [OTHER]]
    assert picky.asked == [REMOTE, OTHER, OTHER]
    assert await bounces(mail) == []
