"""Mail arriving on the embedded inbound SMTP port: SPF, DKIM and DMARC against a real DNS
server (dnsmasq) serving the senders' zones, through real smtplib and imaplib clients."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import socket
from collections.abc import AsyncIterator, Iterator

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.mail_world import MailWorld, imaps, running_mail
from tests.security.dns_server import DnsServer
from tests.support import World

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SELECTOR = "s2026"


class SenderKey:
    """An outside sender's DKIM key: it signs, its public half goes into the zone."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def record(self) -> str:
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()

    def sign(self, content: bytes, domain: str) -> bytes:
        headers = [b"from", b"to", b"subject"]
        signature = dkim.sign(
            content, SELECTOR.encode(), domain.encode(), self.pem(), include_headers=headers
        )
        return bytes(signature) + content


@pytest.fixture
def sender_key() -> SenderKey:
    return SenderKey()


@pytest.fixture
def zone(dns: DnsServer, sender_key: SenderKey) -> DnsServer:
    """sender.test sends from 127.0.0.1 and signs; bank.test sends from nowhere here;
    both publish p=reject."""
    dns.publish(
        {
            "sender.test": ["v=spf1 ip4:127.0.0.1 -all"],
            f"{SELECTOR}._domainkey.sender.test": [sender_key.record()],
            "_dmarc.sender.test": ["v=DMARC1; p=reject"],
            "bank.test": ["v=spf1 ip4:192.0.2.1 -all"],
            "_dmarc.bank.test": ["v=DMARC1; p=reject"],
        }
    )
    return dns


@pytest.fixture
async def mail(world: World, zone: DnsServer) -> AsyncIterator[MailWorld]:
    resolvers = {"dns_resolvers": [zone.resolver], "inbound_checks": True}
    async with running_mail(world, devices=("laptop",), **resolvers) as mail:
        yield mail


def letter(sender: str, to: str, subject: str) -> bytes:
    return f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHello.\r\n".encode()


def send_inbound(port: int, mail_from: str, to: str, content: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, "mx.sender.test", timeout=20) as client:
        client.sendmail(mail_from, [to], content)


def inbox_headers(mail: MailWorld) -> list[bytes]:
    client = imaps(mail.ports.imaps)
    try:
        client.login(mail.world.address, mail.passwords["laptop"])
        client.select("INBOX")
        _, ids = client.search(None, "ALL")
        found = []
        for number in ids[0].split():
            _, data = client.fetch(number, "(BODY.PEEK[HEADER])")
            found.append(bytes(data[0][1]))  # type: ignore[index]
        return found
    finally:
        client.logout()


async def test_a_signed_message_is_delivered_with_spf_dkim_and_dmarc_passing(
    mail: MailWorld, sender_key: SenderKey
) -> None:
    to = mail.world.address
    signed = sender_key.sign(letter("alice@sender.test", to, "Signed"), "sender.test")
    await asyncio.to_thread(send_inbound, mail.ports.smtp, "alice@sender.test", to, signed)
    [headers] = await asyncio.to_thread(inbox_headers, mail)
    results = headers.split(b"Authentication-Results:", 1)[1].split(b"\r\nReceived:")[0]
    assert b"spf=pass" in results
    assert b"dkim=pass" in results and b"header.d=sender.test" in results
    assert b"dmarc=pass" in results and b"header.from=sender.test" in results
    assert headers.startswith(b"Authentication-Results: ")


async def test_a_forged_from_of_a_p_reject_domain_is_refused_before_it_is_stored(
    mail: MailWorld,
) -> None:
    to = mail.world.address
    forged = letter("ceo@bank.test", to, "Urgent transfer")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send_inbound, mail.ports.smtp, "ceo@bank.test", to, forged)
    assert refused.value.smtp_code == 550
    assert b"DMARC policy of bank.test" in refused.value.smtp_error
    assert await asyncio.to_thread(inbox_headers, mail) == []


async def test_a_tampered_signature_of_a_p_reject_domain_is_refused(
    mail: MailWorld, sender_key: SenderKey
) -> None:
    to = mail.world.address
    signed = sender_key.sign(letter("alice@sender.test", to, "Invoice"), "sender.test")
    tampered = signed.replace(b"Subject: Invoice", b"Subject: Invoice (paid)")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        # MAIL FROM of another domain: SPF cannot align, the broken signature decides.
        await asyncio.to_thread(send_inbound, mail.ports.smtp, "x@relay.test", to, tampered)
    assert refused.value.smtp_code == 550


async def test_mail_from_a_domain_without_records_is_delivered_marked_none(
    mail: MailWorld,
) -> None:
    to = mail.world.address
    forged = b"Authentication-Results: localhost;\r\n\tdkim=pass header.d=plain.test\r\n"
    kept = b"Authentication-Results: mx.elsewhere.test; spf=fail\r\n"
    plain = forged + kept + letter("someone@plain.test", to, "Hi")
    await asyncio.to_thread(send_inbound, mail.ports.smtp, "someone@plain.test", to, plain)
    [headers] = await asyncio.to_thread(inbox_headers, mail)
    assert b"spf=none" in headers and b"dkim=none" in headers and b"dmarc=none" in headers
    assert b"dkim=pass" not in headers, "a result claimed in this server's name is removed"
    assert kept.rstrip() in headers


@pytest.fixture
def silent_resolver() -> Iterator[str]:
    """A UDP port that takes queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sink.getsockname()[1]}"


async def test_a_dns_failure_is_a_temporary_refusal_not_a_reject_nor_an_accept(
    world: World, silent_resolver: str
) -> None:
    settings = {"dns_resolvers": [silent_resolver], "dns_timeout_seconds": 0.5}
    async with running_mail(world, devices=("laptop",), **settings) as mail:
        to = mail.world.address
        content = letter("ceo@bank.test", to, "Later")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(send_inbound, mail.ports.smtp, "ceo@bank.test", to, content)
        assert refused.value.smtp_code == 451
        assert await asyncio.to_thread(inbox_headers, mail) == []
