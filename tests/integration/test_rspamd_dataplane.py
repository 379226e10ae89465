"""The production plane with rspamd (Debian 3.4) as Postfix's milter, both configured by
``mailward integrate``: rspamd runs from the generated files on loopback ports, asks the
test's dnsmasq, refuses a forged From of a ``p=reject`` domain on port 25, adds
``Authentication-Results`` to a correctly signed message, and signs submitted mail with
Mailward's DKIM key (verified here with dkimpy against the key in the zone)."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import dkim
import dns.resolver
import pytest

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.mailservices.dkim import SigningKey
from mailward.core.mailservices.dns_records import DnsRecord
from mailward.integrations.postfix import write_postfix_config
from mailward.integrations.rspamd import write_rspamd_config
from tests.integration.dataplane import (
    INFO,
    SALES,
    DataPlane,
    client_tls,
    dovecot_running,
    fetch_by_subject,
    postfix_running,
    prepared_plane,
    start_node,
)
from tests.integration.test_inbound_checks import SenderKey, letter
from tests.security.dns_server import DnsServer
from tests.support import free_port, skip_or_fail

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RSPAMD = "/usr/bin/rspamd"


class Rspamd:
    """rspamd from a generated configuration directory, in the foreground, as root."""

    def __init__(self, conf: Path, milter_port: int) -> None:
        self.conf, self.port = conf, milter_port
        self.work = conf.parent / "rspamd-run"
        for sub in ("db", "run", "log"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        command = [RSPAMD, "-f", "-u", "root", "-g", "root", "-c", "/etc/rspamd/rspamd.conf"]
        command += [f"--var=LOCAL_CONFDIR={conf}"]
        command += [f"--var={v}={self.work / d}" for v, d in _DIRS.items()]
        with (self.work / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=out)

    def wait_listening(self, timeout: float = 240) -> None:
        """rspamd compiles its maps first (about 35 s on a loaded two-core machine)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rspamd exited: {self.log()}")
            try:
                with smtplib.socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"rspamd never listened: {self.log()}")

    def log(self) -> str:
        path = self.work / "log" / "rspamd.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


_DIRS = {"DBDIR": "db", "RUNDIR": "run", "LOGDIR": "log"}


def zone_of(records: list[DnsRecord], sender: SenderKey) -> dict[str, list[str]]:
    """example.test's TXT records as Mailward lists them, and two outside senders."""
    txt: dict[str, list[str]] = {}
    for r in records:
        if r.type == "TXT":
            txt.setdefault(r.name.rstrip("."), []).append(r.value)
    txt.update(
        {
            "sender.test": ["v=spf1 ip4:127.0.0.1 -all"],
            "s2026._domainkey.sender.test": [sender.record()],
            "_dmarc.sender.test": ["v=DMARC1; p=reject"],
            "bank.test": ["v=spf1 ip4:192.0.2.1 -all"],
            "_dmarc.bank.test": ["v=DMARC1; p=reject"],
        }
    )
    return txt


async def keys_and_records(services: Services) -> tuple[list[SigningKey], list[DnsRecord]]:
    keys = await services.dkim.signing_keys("example.test")
    _view, records = await services.dns_records.records(Actor.operator(), "example.test")
    return keys, records


@pytest.fixture(scope="module")
def sender() -> SenderKey:
    return SenderKey()


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory, sender: SenderKey) -> Iterator[DataPlane]:
    if shutil.which("rspamd") is None:
        skip_or_fail("rspamd is not installed (Debian package rspamd)")
    dns_server = DnsServer(tmp_path_factory.mktemp("dns"))
    milter = free_port()
    overrides: dict[str, Any] = {
        "rspamd_enabled": True,
        "rspamd_milter": f"127.0.0.1:{milter}",
        "rspamd_worker": f"127.0.0.1:{free_port()}",
        "dns_resolvers": [dns_server.resolver],
    }
    try:
        with prepared_plane(**overrides) as plane:
            keys, records = plane.run(keys_and_records)
            dns_server.publish(zone_of(records, sender))
            write_postfix_config(plane.settings, plane.postfix_dir, plane.options)
            write_rspamd_config(plane.settings, plane.root / "rspamd", keys)
            rspamd = Rspamd(plane.root / "rspamd", milter)
            try:
                plane.nodes.append(start_node(plane.settings))
                with dovecot_running(plane):
                    rspamd.wait_listening()
                    with postfix_running(plane):
                        plane.dns = dns_server  # type: ignore[attr-defined]
                        plane.rspamd = rspamd  # type: ignore[attr-defined]
                        yield plane
            finally:
                rspamd.stop()
    finally:
        dns_server.stop()


def full_message(sender: str, to: str, subject: str) -> bytes:
    """A well-formed message (Date, Message-ID): its spam score stays low."""
    head = f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {make_msgid('x')}\r\n"
    return head.encode() + letter(sender, to, subject)


def send_inbound(plane: DataPlane, mail_from: str, to: str, content: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", plane.settings.smtp_port, timeout=60) as smtp:
        smtp.ehlo("mx.sender.test")
        smtp.sendmail(mail_from, [to], content)


def test_a_forged_from_of_a_p_reject_domain_is_refused_by_rspamd(plane: DataPlane) -> None:
    content = full_message("ceo@bank.test", INFO, f"transfer {uuid.uuid4().hex}")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_inbound(plane, "ceo@bank.test", INFO, content)
    logs = plane.logs() + plane.rspamd.log()  # type: ignore[attr-defined]
    assert 500 <= refused.value.smtp_code < 600, f"{refused.value}\n{logs}"


def test_a_signed_message_arrives_with_dkim_and_dmarc_passing(
    plane: DataPlane, sender: SenderKey
) -> None:
    subject = f"signed {uuid.uuid4().hex}"
    signed = sender.sign(full_message("alice@sender.test", INFO, subject), "sender.test")
    send_inbound(plane, "alice@sender.test", INFO, signed)
    delivered = fetch_by_subject(plane, INFO, subject)
    headers = delivered.split(b"\r\n\r\n", 1)[0]
    results = headers.split(b"Authentication-Results:", 1)[1]
    assert b"dkim=pass" in results and b"dmarc=pass" in results, headers


def test_submitted_mail_is_signed_by_rspamd_with_mailwards_key(plane: DataPlane) -> None:
    device = plane.add_device(SALES, "CRM")
    mail = EmailMessage()
    mail["From"], mail["To"] = SALES, INFO
    mail["Subject"] = f"signed by rspamd {uuid.uuid4().hex}"
    mail.set_content("Hello from the rspamd test.")
    with smtplib.SMTP("127.0.0.1", plane.settings.submission_port, timeout=60) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login(SALES, device.password)
        smtp.send_message(mail)
    delivered = fetch_by_subject(plane, INFO, str(mail["Subject"]))
    handed_over = list((plane.root / "rspamd" / "dkim").iterdir())
    assert handed_over and all(p.stat().st_mode & 0o777 == 0o600 for p in handed_over)
    assert b"DKIM-Signature:" in delivered and b"d=example.test" in delivered
    resolver = dns.resolver.Resolver(configure=False)
    host, port = plane.dns.resolver.split(":")  # type: ignore[attr-defined]
    resolver.nameservers, resolver.port = [host], int(port)

    def txt(name: bytes, timeout: float = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(next(iter(answer)).strings)

    assert dkim.verify(delivered, None, txt)
