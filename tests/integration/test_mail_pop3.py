"""The embedded POP3 server with Python's poplib: both TLS modes, device passwords,
the Maildir shared with IMAP, and sessions that end with their device."""

from __future__ import annotations

import asyncio
import base64
import poplib
from collections.abc import Callable

from tests.integration.mail_world import (
    MailWorld,
    client_tls,
    imaps,
    in_thread,
    message,
    pop3_stls,
    pop3s,
)


async def deliver(mail: MailWorld, subject: str, body: str = "Hello.") -> None:
    found = await mail.server.directory.address_id(mail.world.address)
    assert found is not None
    content = message("x@elsewhere.test", mail.world.address, subject, body)
    await mail.server.store.deliver([found], content)


def fetch_all(
    connect: Callable[[int], poplib.POP3], port: int, user: str, password: str, delete: bool
) -> list[bytes]:
    client = connect(port)
    client.user(user)
    client.pass_(password)
    count, _ = client.stat()
    bodies = []
    for number in range(1, count + 1):
        bodies.append(b"\r\n".join(client.retr(number)[1]))
        if delete:
            client.dele(number)
    client.quit()
    return bodies


async def test_both_tls_modes_read_and_delete_mail_with_a_device_password(mail: MailWorld) -> None:
    await deliver(mail, "first", "..starts with a dot\r\nsecond line")
    await deliver(mail, "second")
    address, password = mail.world.address, mail.passwords["laptop"]
    kept = await in_thread(fetch_all, pop3_stls, mail.ports.pop3, address, password, False)
    assert len(kept) == 2  # type: ignore[arg-type]
    assert b"...starts with a dot" not in kept[0]  # type: ignore[index]
    assert b"..starts with a dot" in kept[0]  # type: ignore[index]
    gone = await in_thread(fetch_all, pop3s, mail.ports.pop3s, address, password, True)
    assert len(gone) == 2  # type: ignore[arg-type]
    left = await in_thread(fetch_all, pop3s, mail.ports.pop3s, address, password, False)
    assert left == []
    imap = await in_thread(imaps, mail.ports.imaps)
    await in_thread(imap.login, address, mail.passwords["phone"])  # type: ignore[attr-defined]
    status = await in_thread(imap.select, "INBOX")  # type: ignore[attr-defined]
    await in_thread(imap.logout)  # type: ignore[attr-defined]
    assert status[1] == [b"0"]  # type: ignore[index]


async def test_list_uidl_top_and_rset(mail: MailWorld) -> None:
    await deliver(mail, "one", "line 1\r\nline 2\r\nline 3")

    def session() -> tuple[object, ...]:
        client = pop3s(mail.ports.pop3s)
        client.user(mail.world.address)
        client.pass_(mail.passwords["laptop"])
        listing = client.list()[1]
        uidl = client.uidl()[1]
        top = client.top(1, 1)[1]
        client.dele(1)
        client.rset()
        count = client.stat()[0]
        client.quit()
        return listing, uidl, top, count

    listing, uidl, top, count = await in_thread(session)  # type: ignore[misc]
    assert listing[0].startswith(b"1 ")
    assert len(uidl[0].split()[1]) > 10
    assert top[-1] == b"line 1" and b"Subject: one" in top
    assert count == 1


async def test_wrong_passwords_and_plaintext_logins_are_refused(mail: MailWorld) -> None:
    def wrong() -> str:
        client = pop3s(mail.ports.pop3s)
        client.user(mail.world.address)
        try:
            client.pass_("not-the-password-at-all")
        except poplib.error_proto as exc:
            return str(exc)
        finally:
            client.close()
        return "accepted"

    def plaintext() -> str:
        client = poplib.POP3("127.0.0.1", mail.ports.pop3, timeout=10)
        capabilities = client.capa()
        try:
            client.user(mail.world.address)
        except poplib.error_proto as exc:
            return f"{sorted(capabilities)} {exc}"
        finally:
            client.close()
        return "accepted"

    assert "[AUTH] Authentication failed" in await in_thread(wrong)  # type: ignore[operator]
    answer = await in_thread(plaintext)
    assert "STLS" in answer and "Use STLS first" in answer  # type: ignore[operator]
    assert "SASL" not in answer  # type: ignore[operator]


async def test_sasl_plain_logs_in(mail: MailWorld) -> None:
    address, password = mail.world.address, mail.passwords["phone"]
    token = base64.b64encode(f"\0{address}\0{password}".encode()).decode()

    def session() -> bytes:
        client = pop3s(mail.ports.pop3s)
        answer = client._shortcmd(f"AUTH PLAIN {token}")
        client.quit()
        return answer

    assert (await in_thread(session)).startswith(b"+OK")  # type: ignore[attr-defined]


async def test_revoking_a_device_ends_its_pop3_session_only(mail: MailWorld) -> None:
    phone = await asyncio.open_connection("127.0.0.1", mail.ports.pop3s, ssl=client_tls())
    laptop = await asyncio.open_connection("127.0.0.1", mail.ports.imaps, ssl=client_tls())
    reader, writer = phone
    await reader.readline()
    writer.write(f"USER {mail.world.address}\r\nPASS {mail.passwords['phone']}\r\n".encode())
    await reader.readline()
    assert (await reader.readline()).startswith(b"+OK")
    await laptop[0].readline()
    laptop[1].write(f"a LOGIN {mail.world.address} {mail.passwords['laptop']}\r\n".encode())
    assert b"OK" in await asyncio.wait_for(laptop[0].readline(), 10)
    await mail.services.devices.revoke(mail.world.admin, mail.world.address, "phone")
    ended = await asyncio.wait_for(reader.readline(), 10)
    assert ended.startswith(b"-ERR") and b"access changed" in ended
    laptop[1].write(b"b NOOP\r\n")
    assert b"b OK" in await asyncio.wait_for(laptop[0].readline(), 10)
    for w in (writer, laptop[1]):
        w.close()


async def test_garbage_gets_errors_and_the_connection_ends_after_too_many(mail: MailWorld) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", mail.ports.pop3s, ssl=client_tls())
    await reader.readline()
    writer.write(b"STAT\r\nRETR 1\r\n\x00\xff\xfe garbage\r\n" + b"X" * 2000 + b"\r\n")
    answers = [await asyncio.wait_for(reader.readline(), 10) for _ in range(3)]
    assert all(a.startswith(b"-ERR") for a in answers)
    rest = await asyncio.wait_for(reader.read(), 10)
    assert b"Traceback" not in rest
    writer.close()
