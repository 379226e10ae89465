"""Live sessions follow their device: revoking it or changing its password ends
exactly that device's sessions; other devices and new devices touch nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.integration.mail_world import (
    MailWorld,
    RawImap,
    client_tls,
    message,
)


async def idling(mail: MailWorld, device: str) -> RawImap:
    client = await RawImap.connect(mail.ports.imaps)
    answer = await client.login(mail.world.address, mail.passwords[device])
    assert b"OK" in answer
    await client.idle()
    return client


@asynccontextmanager
async def laptop_and_phone_idling(mail: MailWorld) -> AsyncIterator[tuple[RawImap, RawImap]]:
    """Both devices logged in over IMAP and idling, logged out afterwards."""
    laptop, phone = await idling(mail, "laptop"), await idling(mail, "phone")
    try:
        yield laptop, phone
    finally:
        await laptop.close()
        await phone.close()


async def deliver(mail: MailWorld, subject: str) -> None:
    found = await mail.server.directory.address_id(mail.world.address)
    assert found is not None
    await mail.server.store.deliver([found], message("x@elsewhere.test", "info", subject))


async def login_answer(mail: MailWorld, device: str) -> bytes:
    client = await RawImap.connect(mail.ports.imaps)
    try:
        return await client.login(mail.world.address, mail.passwords[device])
    finally:
        await client.close()


async def test_revoking_a_device_ends_its_idle_session_and_no_other(mail: MailWorld) -> None:
    async with laptop_and_phone_idling(mail) as (laptop, phone):
        await mail.services.devices.revoke(mail.world.admin, mail.world.address, "phone")
        assert b"BYE" in await phone.wait_for(b"BYE")
        assert b"AUTHENTICATIONFAILED" in await login_answer(mail, "phone")
        await deliver(mail, "after revoke")
        assert b"EXISTS" in await laptop.wait_for(b"EXISTS")


async def test_modifying_a_password_ends_only_that_devices_sessions(mail: MailWorld) -> None:
    laptop, phone = await idling(mail, "laptop"), await idling(mail, "phone")
    old_password = mail.passwords["laptop"]
    try:
        await mail.services.devices.change_password(mail.world.admin, mail.world.address, "laptop")
        assert b"BYE" in await laptop.wait_for(b"BYE")
        mail.passwords["old"] = old_password
        assert b"AUTHENTICATIONFAILED" in await login_answer(mail, "old")
        await deliver(mail, "after change")
        assert b"EXISTS" in await phone.wait_for(b"EXISTS")
    finally:
        await laptop.close()
        await phone.close()


async def test_adding_a_device_interrupts_nothing(mail: MailWorld) -> None:
    async with laptop_and_phone_idling(mail) as (laptop, phone):
        await mail.add_device(mail.world.address, "tablet")
        assert b"OK" in await login_answer(mail, "tablet")
        await deliver(mail, "after add")
        assert b"EXISTS" in await laptop.wait_for(b"EXISTS")
        assert b"EXISTS" in await phone.wait_for(b"EXISTS")
        assert not any(b"BYE" in line for line in laptop.seen + phone.seen)
        assert mail.server.registry.count() == 2


async def test_an_smtp_session_of_a_revoked_device_is_closed(mail: MailWorld) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", mail.ports.submissions, ssl=client_tls()
    )
    try:
        await reader.readline()
        writer.write(b"EHLO test\r\n")
        while not (await reader.readline()).startswith(b"250 "):
            pass
        plain = base64.b64encode(f"\0{mail.world.address}\0{mail.passwords['phone']}".encode())
        writer.write(b"AUTH PLAIN " + plain + b"\r\n")
        assert (await reader.readline()).startswith(b"235")
        await mail.services.devices.revoke(mail.world.admin, mail.world.address, "phone")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"421 4.7.0")
        assert mail.server.registry.count() == 0
    finally:
        writer.close()
