"""Postfix from `mailward integrate postfix`: submission in both TLS modes with SMTP AUTH
through Dovecot (which asks Mailward), inbound mail for local addresses only, lookups
answered by Mailward's socketmap, delivery into Dovecot by LMTP. Real clients: smtplib,
swaks, imaplib."""

from __future__ import annotations

import smtplib
import subprocess
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.integration.dataplane import (
    INFO,
    SALES,
    DataPlane,
    client_tls,
    fetch_by_subject,
    running_plane,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    yield from running_plane()


def message(sender: str, recipient: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = f"test {uuid.uuid4().hex}"
    mail.set_content("Hello from the data-plane tests.")
    return mail


def wait_for_subject(plane: DataPlane, address: str, subject: str, timeout: float = 15) -> None:
    """Read the recipient's INBOX over IMAP (with a device of its own) until it arrives."""
    fetch_by_subject(plane, address, subject, timeout)


def test_submission_with_starttls_delivers_to_another_address(plane: DataPlane) -> None:
    device = plane.add_device(SALES, "CRM")
    mail = message(SALES, INFO)
    with smtplib.SMTP("127.0.0.1", plane.settings.submission_port, timeout=20) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login(SALES, device.password)
        smtp.send_message(mail)
    wait_for_subject(plane, INFO, str(mail["Subject"]))


def test_submission_with_implicit_tls_delivers_to_another_address(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "Website form")
    mail = message(INFO, SALES)
    port = plane.settings.submissions_port
    with smtplib.SMTP_SSL("127.0.0.1", port, context=client_tls(), timeout=20) as smtp:
        smtp.login(INFO, device.password)
        smtp.send_message(mail)
    wait_for_subject(plane, SALES, str(mail["Subject"]))


def test_submission_refuses_a_wrong_password(plane: DataPlane) -> None:
    with smtplib.SMTP("127.0.0.1", plane.settings.submission_port, timeout=20) as smtp:
        smtp.starttls(context=client_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(SALES, "certainly-not-a-device-password")
    assert refused.value.smtp_code == 535


def test_submission_refuses_sending_as_another_address(plane: DataPlane) -> None:
    device = plane.add_device(SALES, "Scanner")
    with smtplib.SMTP("127.0.0.1", plane.settings.submission_port, timeout=20) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login(SALES, device.password)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.send_message(message(INFO, SALES))


def test_submission_with_a_revoked_device_is_refused(plane: DataPlane) -> None:
    device = plane.add_device(SALES, "Old printer")
    plane.revoke(SALES, device.device.id)
    with smtplib.SMTP("127.0.0.1", plane.settings.submission_port, timeout=20) as smtp:
        smtp.starttls(context=client_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(SALES, device.password)


def swaks(plane: DataPlane, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = ["swaks", "--server", f"127.0.0.1:{plane.settings.smtp_port}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_inbound_smtp_accepts_mail_for_a_local_address(plane: DataPlane) -> None:
    subject = f"inbound {uuid.uuid4().hex}"
    result = swaks(plane, "--from", "friend@outside.test", "--to", INFO, "--h-Subject", subject)
    assert result.returncode == 0, result.stdout
    wait_for_subject(plane, INFO, subject)


def test_inbound_smtp_refuses_unknown_addresses_and_relaying(plane: DataPlane) -> None:
    unknown = swaks(plane, "--from", "friend@outside.test", "--to", "nobody@example.test")
    assert unknown.returncode != 0
    assert "550" in unknown.stdout
    relay = swaks(plane, "--from", "friend@outside.test", "--to", "someone@elsewhere.test")
    assert relay.returncode != 0
    assert "Relay access denied" in relay.stdout


def test_submission_works_with_swaks_over_implicit_tls(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "swaks")
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{plane.settings.submissions_port}",
            "--tlsc",
            "--auth",
            "PLAIN",
            "--auth-user",
            INFO,
            "--auth-password",
            device.password,
            "--from",
            INFO,
            "--to",
            SALES,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
