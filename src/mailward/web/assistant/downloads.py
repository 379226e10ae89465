"""One-time downloads: an Apple profile with the new password, kept in memory only,
for a few minutes, handed out once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailward.clock import Clock

DOWNLOAD_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    content: bytes = field(repr=False)
    expires_at: datetime


class OneTimeDownloads:
    def __init__(self, clock: Clock, lifetime: timedelta = DOWNLOAD_LIFETIME) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self._items: dict[bytes, Download] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def put(self, filename: str, media_type: str, content: bytes) -> str:
        """Keep ``content`` for the lifetime; returns the token that fetches it once."""
        self._forget_expired()
        token = secrets.token_urlsafe(32)
        expires_at = self.clock.now() + self.lifetime
        self._items[self._key(token)] = Download(filename, media_type, content, expires_at)
        return token

    def take(self, token: str) -> Download | None:
        """The download, removed at once; ``None`` if unknown, taken or expired."""
        item = self._items.pop(self._key(token), None)
        if item is None or item.expires_at <= self.clock.now():
            return None
        return item

    def _forget_expired(self) -> None:
        now = self.clock.now()
        for key in [k for k, v in self._items.items() if v.expires_at <= now]:
            del self._items[key]
