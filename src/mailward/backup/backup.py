"""``mailward backup``: one consistent archive of a running installation.

Order matters. The database snapshot comes first; the key ring after it (keys are only
ever added, so the ring then verifies every password the snapshot holds); the Maildirs
after that, so every message the snapshot's addresses had is there (messages delivered
since are too: mail has no rows in the database). Maildirs are named by address id: a
Maildir of an address the snapshot does not know (created after it) is left out, or a
restored installation would hand that mail to the next address given the same id.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from mailward.backup.archive import ArchiveWriter
from mailward.backup.database import (
    DatabaseTarget,
    dump_postgres,
    postgres_address_ids,
    snapshot_sqlite,
    sqlite_address_ids,
    sqlite_side_files,
)
from mailward.backup.files import DataFile, moved_message, walk_data_dir
from mailward.backup.manifest import DATA_PREFIX, KEY_RING, SETTINGS_PREFIX, BackupError, Manifest
from mailward.settings import Settings

MAILDIR = re.compile(r"^mail/(\d+)/")


def make_backup(
    settings: Settings, output: Path, settings_file: Path | None, since: datetime | None = None
) -> Manifest:
    """Write the archive to ``output``; returns its manifest. With ``since``, an
    incremental archive: the database, key ring and other files in full, but only the
    Maildir messages written at or after ``since`` (restored over the full one)."""
    if not settings.data_dir.is_dir():
        raise BackupError(f"no data directory at {settings.data_dir.resolve()}")
    if output.exists():
        raise BackupError(f"{output} already exists: choose a new file name")
    target = DatabaseTarget.from_url(settings.effective_database_url)
    manifest = Manifest(datetime.now(UTC).isoformat(timespec="seconds"), target.kind)
    manifest.since = since.isoformat(timespec="seconds") if since else None
    writer = ArchiveWriter(output, manifest)
    try:
        address_ids = _add_database(writer, target)
        writer.add_path(KEY_RING, settings.key_file)
        for item in _data_files(settings, target, address_ids):
            if since is None or not _older_message(item, since):
                _add_data_file(writer, item)
        if settings_file is not None:
            writer.add_path(SETTINGS_PREFIX + settings_file.name, settings_file)
        return writer.finish()
    except OSError as exc:
        writer.abort()
        raise BackupError(f"{exc.strerror or exc}: {exc.filename or output}") from None
    except BaseException:
        writer.abort()
        raise


def _add_database(writer: ArchiveWriter, target: DatabaseTarget) -> set[int]:
    """The snapshot into the archive; returns the address ids it holds."""
    with tempfile.TemporaryDirectory(prefix="mailward-backup-") as scratch:
        snapshot = Path(scratch) / "database"
        if target.kind == "sqlite":
            snapshot_sqlite(target.sqlite_path, snapshot)
            address_ids = sqlite_address_ids(snapshot)
        else:
            dump_postgres(target.url, snapshot)
            address_ids = postgres_address_ids(snapshot)
        writer.add_path(target.member, snapshot)
    return address_ids


def _data_files(
    settings: Settings, target: DatabaseTarget, address_ids: set[int]
) -> list[DataFile]:
    root = settings.data_dir.resolve()
    left_out = {_inside(root, settings.key_file)}
    if target.kind == "sqlite":
        db = target.sqlite_path.resolve()
        left_out |= {_inside(root, path) for path in (db, *sqlite_side_files(db))}

    def keep(relative: str) -> bool:
        if relative in left_out:
            return False
        maildir = MAILDIR.match(relative)
        return maildir is None or int(maildir.group(1)) in address_ids

    return list(walk_data_dir(root, keep))


def _older_message(item: DataFile, since: datetime) -> bool:
    """A Maildir message written before ``since`` (a moved one keeps its time: the full
    archive has it under its older name, with the flags it had then)."""
    if MAILDIR.match(item.relative) is None:
        return False
    try:
        return item.path.stat().st_mtime < since.timestamp()
    except FileNotFoundError:
        return False  # moved: _add_data_file looks for it


def _inside(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None


def _add_data_file(writer: ArchiveWriter, item: DataFile) -> None:
    """Add one file; a Maildir message that moved since the listing is added under its
    new name (once: the later listing of ``cur/`` may find it again)."""
    path, relative = item.path, item.relative
    for _attempt in range(3):  # a message may move again while we look for it
        if DATA_PREFIX + relative in writer.names:
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            moved = moved_message(path)
            if moved is None:
                return  # expunged or removed since the listing: not part of the backup
            relative = str(PurePosixPath(item.relative).parent.parent / "cur" / moved.name)
            path = moved
            continue
        with os.fdopen(fd, "rb") as source:
            writer.add_file(DATA_PREFIX + relative, source, os.fstat(fd).st_size)
        return
