"""The archive's rules, on real files: readable by its owner only, a Maildir of an
address the snapshot does not know is left out, a message that moved while the backup
listed it is found under its new name, and a restore writes nothing from an archive
that fails its manifest."""

from __future__ import annotations

import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailward.backup.backup import make_backup
from mailward.backup.files import moved_message
from mailward.backup.manifest import BackupError
from mailward.backup.restore import restore_backup
from mailward.bootstrap import build_services
from mailward.settings import Settings
from tests.support import make_world


async def _address_id(settings: Settings) -> int:
    """A new installation holding the test world; the id of its address."""
    services = await build_services(settings)
    try:
        world = await make_world(services)
        return (await services.addresses.get(world.admin, world.address)).id
    finally:
        await services.close()


def _maildir(settings: Settings, address_id: int) -> Path:
    inbox = settings.mail_dir / str(address_id)
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    (inbox / "new" / "1.a.host").write_bytes(b"Subject: one\r\n\r\n1\r\n")
    (inbox / "tmp" / "2.b.host").write_bytes(b"half a delivery")
    return inbox


async def test_the_archive_is_private_and_holds_only_mail_the_snapshot_knows(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    known = await _address_id(settings)
    _maildir(settings, known)
    _maildir(settings, known + 1000)  # an address created after the snapshot
    archive = tmp_path / "backup.tar"
    manifest = make_backup(settings, archive, None)
    names = {entry.name for entry in manifest.files}
    assert f"data/mail/{known}/new/1.a.host" in names
    assert not any(name.startswith(f"data/mail/{known + 1000}/") for name in names)
    assert not any("/tmp/" in name for name in names)
    assert {"database/mailward.sqlite", "keys/server-keys.json"} <= names
    assert archive.stat().st_mode & 0o077 == 0
    with tarfile.open(archive) as tar:
        assert tar.getnames()[-1] == "manifest.json"


def test_a_message_moved_to_cur_with_new_flags_is_found(tmp_path: Path) -> None:
    inbox = tmp_path / "1"
    for sub in ("new", "cur"):
        (inbox / sub).mkdir(parents=True)
    (inbox / "cur" / "1.a.host:2,S").write_bytes(b"x")
    assert moved_message(inbox / "new" / "1.a.host") == inbox / "cur" / "1.a.host:2,S"
    assert moved_message(inbox / "cur" / "1.a.host:2,") == inbox / "cur" / "1.a.host:2,S"
    assert moved_message(inbox / "new" / "9.z.host") is None


async def test_a_damaged_archive_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    await _address_id(settings)
    archive = tmp_path / "backup.tar"
    make_backup(settings, archive, None)
    data = bytearray(archive.read_bytes())
    data[2000] ^= 0x01  # inside the database snapshot
    archive.write_bytes(bytes(data))
    target = Settings(data_dir=tmp_path / "restored")
    with pytest.raises(BackupError, match=r"damaged: database/mailward\.sqlite"):
        restore_backup(target, archive, force=False)
    assert not target.data_dir.exists()


async def test_an_incremental_archive_holds_new_messages_and_restores_over_the_full_one(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    inbox = _maildir(settings, await _address_id(settings))
    old = inbox / "new" / "1.a.host"
    os.utime(old, (1_700_000_000, 1_700_000_000))  # written long before
    full = tmp_path / "full.tar"
    make_backup(settings, full, None)
    (inbox / "new" / "3.c.host").write_bytes(b"Subject: later\r\n\r\n3\r\n")
    increment = tmp_path / "increment.tar"
    manifest = make_backup(settings, increment, None, since=datetime(2024, 1, 1, tzinfo=UTC))
    names = {entry.name for entry in manifest.files}
    assert any(name.endswith("/new/3.c.host") for name in names)
    assert not any(name.endswith("/new/1.a.host") for name in names)
    assert "database/mailward.sqlite" in names and manifest.since == "2024-01-01T00:00:00+00:00"

    target = Settings(data_dir=tmp_path / "restored")
    restore_backup(target, full, force=False)
    restore_backup(target, increment, force=True)
    restored = target.mail_dir / inbox.name / "new"
    assert sorted(p.name for p in restored.iterdir()) == ["1.a.host", "3.c.host"]
    assert (restored / "3.c.host").read_bytes() == b"Subject: later\r\n\r\n3\r\n"
