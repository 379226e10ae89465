"""IMAP and SMTP through real sockets and Python's own clients, in process."""

from __future__ import annotations

import asyncio
import imaplib
import smtplib
from collections.abc import AsyncIterator

import pytest

from tests.integration.mail_world import (
    OTHER,
    MailWorld,
    RawImap,
    imap_starttls,
    imaps,
    message,
    running_mail,
    smtps,
    submission,
)
from tests.support import World

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    async with running_mail(world, devices=("laptop",)) as mail:
        await mail.add_device(OTHER, "bob-phone")
        yield mail


def login_and_list(port: int, user: str, password: str, implicit: bool) -> bytes:
    client = imaps(port) if implicit else imap_starttls(port)
    try:
        status, _ = client.login(user, password)
        assert status == "OK"
        status, data = client.select("INBOX")
        assert status == "OK"
        return bytes(data[0] or b"")
    finally:
        client.logout()


async def test_a_device_password_logs_in_over_imaps_and_starttls(mail: MailWorld) -> None:
    password = mail.passwords["laptop"]
    address = mail.world.address
    assert await asyncio.to_thread(login_and_list, mail.ports.imaps, address, password, True)
    assert await asyncio.to_thread(login_and_list, mail.ports.imap, address, password, False)


def wrong_login(port: int, user: str) -> str:
    client = imaps(port)
    try:
        client.login(user, "wrong-password-wrong-password")
    except imaplib.IMAP4.error as exc:
        return str(exc)
    finally:
        client.shutdown()
    return "logged in"


async def test_a_wrong_password_gets_authenticationfailed(mail: MailWorld) -> None:
    answer = await asyncio.to_thread(wrong_login, mail.ports.imaps, mail.world.address)
    assert "AUTHENTICATIONFAILED" in answer


def plaintext_login(port: int, user: str, password: str) -> tuple[str, str]:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        capabilities = " ".join(client.capabilities)
        try:
            client.login(user, password)
        except imaplib.IMAP4.error as exc:
            return capabilities, str(exc)
        return capabilities, "logged in"
    finally:
        client.shutdown()


async def test_login_before_starttls_is_refused_even_from_localhost(mail: MailWorld) -> None:
    capabilities, answer = await asyncio.to_thread(
        plaintext_login, mail.ports.imap, mail.world.address, mail.passwords["laptop"]
    )
    assert "LOGINDISABLED" in capabilities
    assert answer != "logged in"


def send(port: int, implicit: bool, user: str, password: str, to: str, subject: str) -> None:
    client = smtps(port) if implicit else submission(port)
    try:
        client.login(user, password)
        client.sendmail(user, [to], message(user, to, subject))
    finally:
        client.quit()


def fetch_subjects(port: int, user: str, password: str) -> list[bytes]:
    client = imaps(port)
    try:
        client.login(user, password)
        client.select("INBOX")
        _, data = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT RECEIVED)])")
        return [part[1] for part in data if isinstance(part, tuple)]
    finally:
        client.logout()


async def test_a_message_from_a_to_b_is_fetched_by_a_device_of_b(mail: MailWorld) -> None:
    address = mail.world.address
    password = mail.passwords["laptop"]
    await asyncio.to_thread(send, mail.ports.submission, False, address, password, OTHER, "one")
    await asyncio.to_thread(send, mail.ports.submissions, True, address, password, OTHER, "two")
    headers = await asyncio.to_thread(
        fetch_subjects, mail.ports.imaps, OTHER, mail.passwords["bob-phone"]
    )
    assert len(headers) == 2  # same-second deliveries have no defined order in a Maildir
    assert sorted(b"Subject: one" in h for h in headers) == [False, True]
    assert sorted(b"Subject: two" in h for h in headers) == [False, True]
    assert all(b"with ESMTPSA" in h for h in headers)


def smtp_refusal(port: int, user: str, password: str, sender: str, to: str) -> str:
    client = submission(port)
    try:
        client.login(user, password)
        try:
            client.sendmail(sender, [to], message(sender, to, "x"))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients[to]
            return f"{code} {text.decode()}"
        except smtplib.SMTPSenderRefused as exc:
            return f"{exc.smtp_code} {exc.smtp_error.decode()}"
        return "accepted"
    finally:
        client.quit()


async def test_an_unknown_local_recipient_is_refused_at_rcpt(mail: MailWorld) -> None:
    address, password = mail.world.address, mail.passwords["laptop"]
    answer = await asyncio.to_thread(
        smtp_refusal, mail.ports.submission, address, password, address, "nobody@example.test"
    )
    assert answer.startswith("550 5.1.1")


async def test_another_domain_is_refused_at_rcpt_without_a_smarthost(mail: MailWorld) -> None:
    address, password = mail.world.address, mail.passwords["laptop"]
    answer = await asyncio.to_thread(
        smtp_refusal, mail.ports.submission, address, password, address, "x@elsewhere.test"
    )
    assert answer.startswith("550 5.7.1") and "smarthost" in answer


async def test_the_envelope_sender_must_be_the_authenticated_address(mail: MailWorld) -> None:
    address, password = mail.world.address, mail.passwords["laptop"]
    answer = await asyncio.to_thread(
        smtp_refusal, mail.ports.submission, address, password, OTHER, OTHER
    )
    assert answer.startswith("553")


def smtp_wrong_password(port: int, user: str) -> int:
    client = submission(port)
    try:
        client.login(user, "wrong-password-wrong-password")
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code
    finally:
        client.quit()
    return 235


async def test_a_wrong_smtp_password_gets_535(mail: MailWorld) -> None:
    code = await asyncio.to_thread(smtp_wrong_password, mail.ports.submission, mail.world.address)
    assert code == 535


async def test_the_imap_id_client_name_is_recorded_for_the_device(mail: MailWorld) -> None:
    client = await RawImap.connect(mail.ports.imaps)
    try:
        await client.command('ID ("name" "Thunderbird" "version" "128.0")')
        assert b"OK" in await client.login(mail.world.address, mail.passwords["laptop"])
        await client.command('ID ("name" "Thunderbird" "version" "128.1")')
    finally:
        await client.close()
    device_id = mail.device_ids["laptop"]
    assert mail.authenticator.client_names[device_id] == "Thunderbird 128.1"
