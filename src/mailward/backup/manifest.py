"""The archive's table of contents: every member's size and SHA-256, and what kind of
database the archive holds. Written as the archive's last member, read first on restore."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Literal

FORMAT = "mailward-backup"
VERSION = 1
MANIFEST_NAME = "manifest.json"
DatabaseKind = Literal["sqlite", "postgresql"]

# Members of an archive, by the prefix of their name.
DATABASE_MEMBERS: dict[DatabaseKind, str] = {
    "sqlite": "database/mailward.sqlite",
    "postgresql": "database/mailward.pgdump",
}
KEY_RING = "keys/server-keys.json"
SETTINGS_PREFIX = "settings/"
DATA_PREFIX = "data/"


class BackupError(Exception):
    """Anything that stops a backup or a restore; ``str()`` is one clear line."""


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    sha256: str


@dataclass
class Manifest:
    created_at: str
    database: DatabaseKind
    revision: str | None = None
    files: list[Entry] = field(default_factory=list)
    since: str | None = None  # an incremental archive: Maildir messages from then on

    def to_json(self) -> bytes:
        body = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT or body.get("version") != VERSION:
                raise BackupError("not a Mailward backup (unknown manifest format)")
            files = [Entry(str(f["name"]), int(f["size"]), str(f["sha256"])) for f in body["files"]]
            manifest = cls(str(body["created_at"]), body["database"], body.get("revision"), files)
            manifest.since = body.get("since")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"the archive's manifest is unreadable ({exc})") from None
        if manifest.database not in ("sqlite", "postgresql"):
            raise BackupError(f"the manifest names an unknown database {manifest.database!r}")
        for entry in manifest.files:
            check_member_name(entry.name)
        return manifest

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files)


def check_member_name(name: str) -> str:
    """A member name a restore may write: relative, no ``..``, no empty parts."""
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise BackupError(f"the archive holds an unsafe file name {name!r}")
    return name
