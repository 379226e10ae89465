"""The embedded mail servers feed each device's login history with real clients: the
IMAP ID name, the SMTP EHLO name, the client's IP and the protocol (issue 16)."""

from __future__ import annotations

import asyncio
import smtplib

import pytest

from mailward.core.access.actors import Actor
from tests.integration.mail_world import MailWorld, RawImap, client_tls

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def smtps_login(port: int, user: str, password: str) -> None:
    client = smtplib.SMTP_SSL(
        "127.0.0.1", port, context=client_tls(), timeout=10, local_hostname="crm.example.net"
    )
    try:
        client.login(user, password)
    finally:
        client.quit()


async def test_imap_id_and_smtp_ehlo_names_are_in_the_history(mail: MailWorld) -> None:
    address, password = mail.world.address, mail.passwords["laptop"]
    client = await RawImap.connect(mail.ports.imaps)
    try:
        assert b"OK" in await client.login(address, password)
        await client.command('ID ("name" "Thunderbird" "version" "128.2")')
    finally:
        await client.close()
    await asyncio.to_thread(smtps_login, mail.ports.submissions, address, password)
    await mail.authenticator.inner.last_used.flush()
    history = await mail.services.device_history.history(
        Actor.operator(), address, mail.device_ids["laptop"]
    )
    assert {(h.ip, h.protocol, h.client, h.result) for h in history} == {
        ("127.0.0.1", "imap", "Thunderbird 128.2", "ok"),
        ("127.0.0.1", "smtp", "crm.example.net", "ok"),
    }
