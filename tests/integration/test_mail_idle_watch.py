"""Idle IMAP sessions wait for their mailbox to change instead of re-reading it every
second. The safety-net rescan (and the one-second scan of an unwatched mailbox) is pushed
to an hour here, so every update below can only have come from the change notification:
without it these tests time out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailward.mail import mailbox_watch
from tests.integration.mail_world import MailWorld, RawImap
from tests.integration.test_mail_sessions import deliver, idling
from tests.support import wait_until


@pytest.fixture
async def watched(mail: MailWorld, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MailWorld]:
    monkeypatch.setattr(mailbox_watch, "RESCAN_SECONDS", 3600.0)
    monkeypatch.setattr(mailbox_watch, "POLL_SECONDS", 3600.0)
    yield mail


async def signed_in(mail: MailWorld, device: str) -> RawImap:
    client = await RawImap.connect(mail.ports.imaps)
    assert b"OK" in await client.login(mail.world.address, mail.passwords[device])
    return client


async def test_a_delivery_wakes_an_idle_session(watched: MailWorld) -> None:
    laptop = await idling(watched, "laptop")
    try:
        await deliver(watched, "while idle")
        assert b"EXISTS" in await laptop.wait_for(b"EXISTS")
    finally:
        await laptop.close()


async def test_a_flag_set_by_another_device_reaches_the_idle_one(watched: MailWorld) -> None:
    await deliver(watched, "to be read")
    laptop = await idling(watched, "laptop")
    phone = await signed_in(watched, "phone")
    try:
        await phone.command("SELECT INBOX")
        assert b"OK" in (await phone.command("STORE 1 +FLAGS (\\Seen)"))[-1]
        assert b"\\Seen" in await laptop.wait_for(b"FETCH")
        assert b"OK" in (await phone.command("STORE 1 +FLAGS (\\Deleted)"))[-1]
        assert b"OK" in (await phone.command("EXPUNGE"))[-1]
        assert b"EXPUNGE" in await laptop.wait_for(b"EXPUNGE")
    finally:
        await laptop.close()
        await phone.close()


async def test_sessions_on_one_mailbox_share_one_watch(watched: MailWorld) -> None:
    watcher = watched.server.mailbox_watcher
    phone = await signed_in(watched, "phone")  # signed in, not idling: no watch
    assert watcher.watched == 0
    laptop, tablet = await idling(watched, "laptop"), await idling(watched, "laptop")
    try:
        assert watcher.watched == 1
    finally:
        await laptop.close()
        await tablet.close()
        await phone.close()
    await wait_until(lambda: watcher.watched == 0, what="the watch let go with the last session")


async def test_a_revoked_idle_session_lets_go_of_its_watch(watched: MailWorld) -> None:
    watcher = watched.server.mailbox_watcher
    phone = await idling(watched, "phone")
    try:
        assert watcher.watched == 1
        await watched.services.devices.revoke(watched.world.admin, watched.world.address, "phone")
        assert b"BYE" in await phone.wait_for(b"BYE")
    finally:
        await phone.close()
    await wait_until(lambda: watcher.watched == 0, what="the revoked session's watch released")


async def test_a_woken_idle_session_settles_instead_of_re_reading_without_end(
    watched: MailWorld,
) -> None:
    """Each read of a mailbox takes the uid list's lock file in its folder: no change of
    the mailbox, so once a delivery has woken the session and it has read, all is quiet."""
    watcher = watched.server.mailbox_watcher
    laptop = await idling(watched, "laptop")
    try:
        await deliver(watched, "wakes the session once")
        assert b"EXISTS" in await laptop.wait_for(b"EXISTS")
        await asyncio.sleep(0.5)  # the delivery's own events are read by now
        seen = watcher.changes
        await asyncio.sleep(1.0)
        assert watcher.changes == seen
    finally:
        await laptop.close()
