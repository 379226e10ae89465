"""Writing and checking the tar archive: members are hashed while they are written, the
manifest goes last, and a restore reads the whole archive against it before it writes
anything."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from mailward.backup.manifest import MANIFEST_NAME, BackupError, Entry, Manifest

CHUNK = 1024 * 1024


class _Hashing:
    """A file object that hashes what is read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def _create(path: Path, compressed: bool) -> tarfile.TarFile:
    """A new tar file, gzip-compressed when the archive's name ends in .gz or .tgz."""
    return tarfile.open(path, "w:gz") if compressed else tarfile.open(path, "w")


class ArchiveWriter:
    """Members in the order added, then the manifest; written to ``path``.partial and
    renamed into place once complete, so a crash never leaves an archive that looks whole."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.manifest = manifest
        self.names: set[str] = set()
        # The archive holds the key ring and the database: readable by its owner only.
        os.close(os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(self.partial, 0o600)
        self.tar = _create(self.partial, path.name.endswith((".gz", ".tgz")))

    def add_file(self, name: str, source: IO[bytes], size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, int(time.time())
        hashing = _Hashing(source)
        self.tar.addfile(info, hashing)  # reads exactly size bytes
        self.manifest.files.append(Entry(name, size, hashing.digest.hexdigest()))
        self.names.add(name)

    def add_path(self, name: str, path: Path) -> None:
        with path.open("rb") as source:
            self.add_file(name, source, os.fstat(source.fileno()).st_size)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_file(name, io.BytesIO(data), len(data))

    def finish(self) -> Manifest:
        body = self.manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(body), 0o600, int(time.time())
        self.tar.addfile(info, io.BytesIO(body))
        self.tar.close()
        self.partial.replace(self.path)
        return self.manifest

    def abort(self) -> None:
        self.tar.close()
        self.partial.unlink(missing_ok=True)


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{path} is not a readable backup archive ({exc})") from None


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BackupError(f"the archive is truncated or damaged ({exc})") from None


def read_manifest(path: Path) -> Manifest:
    """The manifest, found by reading the archive to its end (a truncated archive has none)."""
    with _open(path) as tar:
        for info in _members(tar):
            if info.name == MANIFEST_NAME:
                return Manifest.from_json(_read_all(tar, info))
    raise BackupError(f"{path} has no manifest: the archive is truncated or not a Mailward backup")


def _read_all(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(info)
    if handle is None:
        raise BackupError(f"the archive member {info.name} is not a file")
    try:
        return handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"the archive is truncated or damaged at {info.name} ({exc})") from None


def _digest(tar: tarfile.TarFile, info: tarfile.TarInfo) -> str:
    handle = tar.extractfile(info)
    if handle is None:
        raise BackupError(f"the archive member {info.name} is not a file")
    digest = hashlib.sha256()
    try:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"the archive is truncated or damaged at {info.name} ({exc})") from None
    return digest.hexdigest()


def verify_archive(path: Path) -> Manifest:
    """Every member present once with the manifest's size and SHA-256, nothing else;
    raises :class:`BackupError` naming the first difference."""
    manifest = read_manifest(path)
    expected = {entry.name: entry for entry in manifest.files}
    seen: set[str] = set()
    with _open(path) as tar:
        for info in _members(tar):
            if info.name == MANIFEST_NAME:
                continue
            entry = expected.get(info.name)
            if entry is None or info.name in seen or not info.isfile():
                raise BackupError(
                    f"the archive holds {info.name}, which its manifest does not list"
                )
            if info.size != entry.size or _digest(tar, info) != entry.sha256:
                raise BackupError(f"the archive is damaged: {info.name} differs from its manifest")
            seen.add(info.name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"the archive is missing {missing[0]} ({len(missing)} files in all)")
    return manifest


def members_by_name(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    """The members by name (``TarFile.extractfile(name)`` searches the list each time)."""
    return {info.name: info for info in tar.getmembers()}


def extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Write one member to ``target`` (mode 0600) through a temporary name."""
    handle = tar.extractfile(member)
    if handle is None:
        raise BackupError(f"the archive member {member.name} is not a file")
    private_dirs(target.parent)
    partial = target.with_name(f".{target.name}.restoring")
    with partial.open("wb") as out:
        partial.chmod(0o600)
        while chunk := handle.read(CHUNK):
            out.write(chunk)
    partial.replace(target)


def private_dirs(path: Path) -> None:
    """``path`` and every missing parent made with mode 0700 (mkdir's ``parents`` would
    give the parents the umask's mode)."""
    missing = []
    while not path.is_dir():  # up to the first one that exists
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)


def open_archive(path: Path) -> tarfile.TarFile:
    return _open(path)
