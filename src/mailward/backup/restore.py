"""``mailward restore``: the archive checked against its manifest first (every size and
SHA-256), then written into an empty data directory, the configured database, and the
configured key ring path. Nothing is written before the whole archive has been checked."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from tarfile import TarFile, TarInfo

from mailward.backup.archive import (
    extract_member,
    members_by_name,
    open_archive,
    private_dirs,
    verify_archive,
)
from mailward.backup.database import (
    DatabaseTarget,
    require_empty_postgres,
    restore_postgres,
    sqlite_side_files,
)
from mailward.backup.manifest import DATA_PREFIX, KEY_RING, SETTINGS_PREFIX, BackupError, Manifest
from mailward.settings import Settings

RESTORED_SETTINGS_DIR = "restored-settings"


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    settings_file: Path | None


def restore_backup(settings: Settings, archive: Path, force: bool) -> Restored:
    """Restore ``archive`` into ``settings.data_dir`` and the configured database."""
    if not archive.is_file():
        raise BackupError(f"no archive at {archive}")
    manifest = verify_archive(archive)
    target = DatabaseTarget.from_url(settings.effective_database_url)
    if target.kind != manifest.database:
        raise BackupError(
            f"the archive holds a {manifest.database} database but the configured one "
            f"is {target.kind}: set MAILWARD_DATABASE_URL to match"
        )
    data_dir = settings.data_dir
    _require_empty(data_dir, force)
    private_dirs(data_dir)
    _require_key_ring_free(settings.key_file, archive, force)
    _require_database_free(target, force)
    settings_file = None
    with open_archive(archive) as tar:
        members = members_by_name(tar)
        for entry in manifest.files:
            name = entry.name
            if name.startswith(DATA_PREFIX):
                extract_member(tar, members[name], data_dir / name.removeprefix(DATA_PREFIX))
            elif name == KEY_RING:
                extract_member(tar, members[name], settings.key_file)
            elif name.startswith(SETTINGS_PREFIX):
                settings_file = (
                    data_dir / RESTORED_SETTINGS_DIR / name.removeprefix(SETTINGS_PREFIX)
                )
                extract_member(tar, members[name], settings_file)
        _restore_database(tar, members, target, force)
    return Restored(manifest, settings_file)


def _require_empty(data_dir: Path, force: bool) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is not a directory")
    if data_dir.is_dir() and any(data_dir.iterdir()) and not force:
        raise BackupError(
            f"the data directory {data_dir.resolve()} is not empty: restore into an empty "
            "one, or pass --force to write over it"
        )


def _require_key_ring_free(key_file: Path, archive: Path, force: bool) -> None:
    """A key ring outside the data directory (``server_key_file``) is only replaced
    with --force: without its keys, the device passwords of another database fail."""
    if key_file.exists() and not force:
        raise BackupError(
            f"a key ring already exists at {key_file}: move it away, or pass --force "
            f"to replace it with the one in {archive}"
        )


def _require_database_free(target: DatabaseTarget, force: bool) -> None:
    if force:
        return
    if target.kind == "postgresql":
        require_empty_postgres(target.url)
    elif target.sqlite_path.exists():
        path = target.sqlite_path
        raise BackupError(f"a database already exists at {path}: pass --force to replace it")


def _restore_database(
    tar: TarFile, members: dict[str, TarInfo], target: DatabaseTarget, force: bool
) -> None:
    if target.kind == "sqlite":
        path = target.sqlite_path
        for side_file in sqlite_side_files(path):
            side_file.unlink(missing_ok=True)
        extract_member(tar, members[target.member], path)
        return
    with tempfile.TemporaryDirectory(prefix="mailward-restore-") as scratch:
        dump = Path(scratch) / "mailward.pgdump"
        extract_member(tar, members[target.member], dump)
        restore_postgres(target.url, dump, force)
