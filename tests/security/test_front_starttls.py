"""Finding 2: commands pipelined behind STARTTLS/STLS in the same packet are dropped,
never answered inside TLS (RFC 3207 §4.2, RFC 2595 §3.1), on IMAP, POP3 and SMTP."""

from __future__ import annotations

from tests.integration.mail_world import MailWorld
from tests.security.front_support import Raw


async def test_imap_drops_a_command_sent_with_starttls(mail: MailWorld) -> None:
    client = await Raw.greeted(mail.ports.imap)
    await client.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
    assert (await client.until(b"a "))[-1].startswith(b"a OK")
    await client.start_tls()
    await client.send(b"c NOOP\r\n")
    inside = await client.until(b"c ")
    assert not any(line.startswith(b"b ") for line in inside), inside
    assert inside[-1].startswith(b"c OK")
    await client.close()


async def test_pop3_drops_a_command_sent_with_stls(mail: MailWorld) -> None:
    client = await Raw.greeted(mail.ports.pop3)
    await client.send(b"STLS\r\nCAPA\r\n")
    assert (await client.line()).startswith(b"+OK")
    await client.start_tls()
    await client.send(b"NOOP\r\n")
    assert await client.line() == b"+OK\r\n"  # the NOOP's answer, not CAPA's list
    await client.send(b"QUIT\r\n")
    assert (await client.line()).startswith(b"+OK")
    await client.close()


async def test_smtp_drops_a_command_sent_with_starttls(mail: MailWorld) -> None:
    for port in (mail.ports.submission, mail.ports.smtp):
        client = await Raw.connect(port)
        await client.until(b"220 ")
        await client.send(b"EHLO client.test\r\n")
        await client.until(b"250 ")
        await client.send(b"STARTTLS\r\nXINJECTED\r\n")
        assert (await client.line()).startswith(b"220")
        await client.start_tls()
        await client.send(b"NOOP\r\n")
        assert (await client.line()).startswith(b"250"), "NOOP answered, XINJECTED never"
        await client.send(b"QUIT\r\n")
        assert (await client.line()).startswith(b"221")
        await client.close()
