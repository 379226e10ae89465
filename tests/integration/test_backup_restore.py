"""The restore drill: a running ``mailward serve`` under load (one client delivering
mail over SMTP, another logging in over IMAP) is backed up; the data directory is wiped
(and the PostgreSQL database dropped and created again); the archive is restored; every
device logs in with its password, every message delivered before the backup is there
with the same bytes, the audit log is the same; damaged and truncated archives are
refused with one line of error. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import imaplib
import json
import shutil
import smtplib
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailward.bootstrap import build_services
from mailward.core.access.actors import Actor
from mailward.settings import Settings
from tests.integration.mail_world import imaps, message
from tests.integration.serve_process import running_serve, serve_env
from tests.support import (
    ADMIN_PASSWORD,
    POSTGRES_ADMIN_DSN,
    create_postgres_database,
    drop_postgres_database,
)

ADDRESSES = ("info@example.test", "sales@example.test")
DEVICES_PER_ADDRESS = 3
MAX_MESSAGES = 400  # the delivering client's bound
MAX_LOGINS = 400  # the logging-in client's bound


@dataclass
class Installation:
    env: dict[str, str]
    data_dir: Path
    passwords: dict[str, list[str]] = field(default_factory=dict)  # address -> passwords

    def mailward(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailward.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    @property
    def smtp_port(self) -> int:
        return int(self.env["MAILWARD_SMTP_PORT"])

    @property
    def imaps_port(self) -> int:
        return int(self.env["MAILWARD_IMAPS_PORT"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    data_dir = tmp_path / "data"
    # No DNS here: inbound SPF/DKIM checks would defer every delivery.
    env = serve_env(data_dir, domain_check_interval_seconds="3600", inbound_checks="false")
    database_url = None
    if request.param == "postgres":
        database_url = asyncio.run(create_postgres_database())
        env["MAILWARD_DATABASE_URL"] = database_url
    try:
        yield Installation(env, data_dir)
    finally:
        if database_url:
            asyncio.run(drop_postgres_database(database_url))


async def _seed(install: Installation) -> None:
    """An organization with example.test, two addresses, three devices each."""
    settings = Settings(
        data_dir=install.data_dir, database_url=install.env.get("MAILWARD_DATABASE_URL")
    )
    services = await build_services(settings)
    try:
        op = Actor.operator()
        owner = await services.accounts.create(op, "owner@corp.test", ADMIN_PASSWORD, "Olga")
        org = await services.organizations.create(op, "Corp", owner.email)
        await services.mail_services.create(op, org.id, "example.test")
        for address in ADDRESSES:
            await services.addresses.create_by_email(op, address)
            install.passwords[address] = [
                (await services.devices.add(op, address, f"device {n}")).password
                for n in range(DEVICES_PER_ADDRESS)
            ]
    finally:
        await services.close()


class Load:
    """A client delivering numbered messages over SMTP and one logging in over IMAP,
    each in a bounded loop, until stopped."""

    def __init__(self, install: Installation) -> None:
        self.install = install
        self.stopping = threading.Event()
        self.delivered: list[str] = []  # subjects, in the order the server accepted them
        self.logins = 0
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._deliver, daemon=True),
            threading.Thread(target=self._log_in, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _deliver(self) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.install.smtp_port, timeout=10) as client:
                for n in range(MAX_MESSAGES):
                    if self.stopping.is_set():
                        return
                    to = ADDRESSES[n % len(ADDRESSES)]
                    subject = f"drill {n}"
                    client.sendmail("someone@outside.test", [to], message("a@b.test", to, subject))
                    self.delivered.append(subject)
        except (OSError, smtplib.SMTPException) as exc:
            self.errors.append(f"delivery: {exc}")

    def _log_in(self) -> None:
        address = ADDRESSES[0]
        try:
            for n in range(MAX_LOGINS):
                if self.stopping.is_set():
                    return
                client = imaps(self.install.imaps_port)
                try:
                    client.login(address, self.install.passwords[address][n % DEVICES_PER_ADDRESS])
                    client.select("INBOX")  # moves new mail to cur/ while the backup reads
                    self.logins += 1
                finally:
                    client.logout()
        except (OSError, imaplib.IMAP4.error) as exc:
            self.errors.append(f"login: {exc}")

    def wait_for_messages(self, count: int) -> None:
        for _ in range(600):
            if len(self.delivered) >= count or self.errors:
                return
            self.stopping.wait(0.05)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not self.errors, self.errors


def maildir_messages(data_dir: Path) -> dict[str, bytes]:
    """Subject -> bytes of every message in the data directory's Maildirs."""
    found = {}
    for path in (data_dir / "mail").glob("*/*/*"):
        if path.parent.name in ("new", "cur") and path.is_file():
            content = path.read_bytes()
            found[_subject(content)] = content
    return found


def _subject(content: bytes) -> str:
    for line in content.splitlines():
        if line.startswith(b"Subject: "):
            return line[len(b"Subject: ") :].decode()
    return ""


def fetched_subjects(install: Installation, address: str, password: str) -> set[str]:
    client = imaps(install.imaps_port)
    try:
        client.login(address, password)
        client.select("INBOX", readonly=True)
        _, data = client.fetch("1:*", "(BODY.PEEK[])")
        contents = [part[1] for part in data if isinstance(part, tuple)]
        return {_subject(content) for content in contents}
    finally:
        client.logout()


def logs_in(install: Installation, address: str, password: str) -> bool:
    client = imaps(install.imaps_port)
    try:
        client.login(address, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        client.logout()


def audit_log(install: Installation) -> list[object]:
    done = install.mailward("audit", "list", "--limit", "1000", "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def wipe(install: Installation) -> None:
    shutil.rmtree(install.data_dir)
    url = install.env.get("MAILWARD_DATABASE_URL")
    if url:
        asyncio.run(_recreate_postgres(url.rsplit("/", 1)[1]))


async def _recreate_postgres(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def assert_refused(install: Installation, archive: Path, target: Path, why: str) -> None:
    done = install.mailward("restore", str(archive), "--data-dir", str(target))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: restore refused:"), done.stderr
    assert why in lines[0], lines[0]
    assert not target.exists()


def damaged_copies(archive: Path) -> dict[str, Path]:
    data = archive.read_bytes()
    truncated = archive.with_name("truncated.tar")
    truncated.write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside a member's contents, not a header
    damaged = archive.with_name("damaged.tar")
    damaged.write_bytes(bytes(flipped))
    return {"truncated": truncated, "damaged": damaged}


def test_restore_drill_under_load(installation: Installation, tmp_path: Path) -> None:
    install = installation
    asyncio.run(_seed(install))
    archive = tmp_path / "mailward-backup.tar"

    with running_serve(install.env, tmp_path / "serve.stderr") as serve:
        load = Load(install)
        load.wait_for_messages(30)
        before_backup = set(load.delivered)
        done = install.mailward("backup", "--output", str(archive))
        load.stop()
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"backup written to {archive}")
        assert len(before_backup) >= 30 and load.logins > 0
    assert serve.returncode == 0
    originals = maildir_messages(install.data_dir)
    audit = audit_log(install)
    wipe(install)

    for why, copy in damaged_copies(archive).items():
        assert_refused(install, copy, tmp_path / f"restored-{why}", why)

    done = install.mailward("restore", str(archive), "--data-dir", str(install.data_dir))
    assert done.returncode == 0, done.stderr
    on_disk = maildir_messages(install.data_dir)
    assert before_backup <= set(on_disk)
    assert all(on_disk[subject] == originals[subject] for subject in on_disk)  # same bytes
    with running_serve(install.env, tmp_path / "serve-restored.stderr") as serve:
        for address, passwords in install.passwords.items():
            assert all(logs_in(install, address, p) for p in passwords), address
        restored: set[str] = set()
        for address, passwords in install.passwords.items():
            restored |= fetched_subjects(install, address, passwords[0])
        assert before_backup <= restored  # and IMAP serves them
        assert audit_log(install) == audit
    assert serve.returncode == 0

    done = install.mailward("restore", str(archive), "--data-dir", str(install.data_dir))
    assert done.returncode != 0 and "not empty" in done.stderr
