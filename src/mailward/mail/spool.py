"""The outbound spool: messages for other domains wait on disk until the smarthost
takes them. Each entry is ``<id>.eml`` plus ``<id>.json`` (the envelope and retry
state); the JSON file is written last, fsynced and renamed into place, so an entry
exists only once both halves are durable."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from mailward.clock import Clock
from mailward.files import fsync_dir, replace_durably


@dataclass
class SpoolEntry:
    id: str
    mail_from: str
    recipients: list[str]
    queued_at: str
    next_attempt_at: str
    attempts: int = 0
    last_error: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def queued(self) -> datetime:
        return datetime.fromisoformat(self.queued_at)

    @property
    def due(self) -> datetime:
        return datetime.fromisoformat(self.next_attempt_at)


class Spool:
    def __init__(self, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self.wakeup = asyncio.Event()

    async def enqueue(
        self,
        mail_from: str,
        recipients: list[str],
        content: bytes,
        extra: dict[str, str] | None = None,
    ) -> str:
        """``extra``: what to keep beside the message (a security notice's mark)."""
        now = self.clock.now().isoformat()
        entry = SpoolEntry(
            secrets.token_hex(12), mail_from, list(recipients), now, now, extra=dict(extra or {})
        )
        await asyncio.to_thread(self._store, entry, content)
        self.wakeup.set()
        return entry.id

    def _store(self, entry: SpoolEntry, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_durably(self.directory / f"{entry.id}.eml", content)
        self.save(entry)

    def save(self, entry: SpoolEntry) -> None:
        replace_durably(self.directory / f"{entry.id}.json", json.dumps(asdict(entry)).encode())

    def entries(self) -> list[SpoolEntry]:
        if not self.directory.exists():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(SpoolEntry(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue
        return found

    def content(self, entry: SpoolEntry) -> bytes:
        return (self.directory / f"{entry.id}.eml").read_bytes()

    def remove(self, entry: SpoolEntry) -> None:
        (self.directory / f"{entry.id}.json").unlink(missing_ok=True)
        (self.directory / f"{entry.id}.eml").unlink(missing_ok=True)
        fsync_dir(self.directory)

    def postpone(self, entry: SpoolEntry, error: str, delay: timedelta) -> None:
        entry.attempts += 1
        entry.last_error = error[:500]
        entry.next_attempt_at = (self.clock.now() + delay).isoformat()
        self.save(entry)
