"""What every use case receives: wired once in ``bootstrap``, faked in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from mailward.clock import Clock
from mailward.core.passwords import PasswordHasher
from mailward.db.engine import Database
from mailward.db.notify import ChangeSignal, NullChangeSignal
from mailward.keys import ServerKeys
from mailward.limitstore import MemoryRateLimitStore, RateLimitStore


@dataclass(frozen=True)
class DeviceChangeNotice:
    """A device's credentials or scope changed: caches drop it, sessions end."""

    device_id: int
    address_id: int
    kind: str  # "password" | "revoke" | "options" | "add"
    change_id: int = 0
    at: datetime | None = None

    @property
    def ends_sessions(self) -> bool:
        return self.kind in ("password", "revoke", "options")


class DeviceEventSink(Protocol):
    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        """Called after the change committed. Must not raise."""
        ...


class NullDeviceEvents:
    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        return None


@dataclass
class CoreDeps:
    db: Database
    keys: ServerKeys
    # Argon2id of the web manager and the CLI (account passwords, new chosen device
    # passwords). Mail logins have their own pool, ``login_hasher``: a flood of them
    # never makes the manager's sign-in wait.
    hasher: PasswordHasher
    clock: Clock
    device_events: DeviceEventSink = field(default_factory=NullDeviceEvents)
    device_change_signal: ChangeSignal = field(default_factory=NullChangeSignal)
    # Rate-limit counters and one-use flags: Redis shared by every node, or memory.
    limit_store: RateLimitStore = field(default_factory=MemoryRateLimitStore)
    login_hasher: PasswordHasher | None = None

    @property
    def mail_login_hasher(self) -> PasswordHasher:
        """The pool of mail logins (the manager's when none of its own was wired)."""
        return self.login_hasher or self.hasher

    def close_hashers(self) -> None:
        self.hasher.close()
        if self.login_hasher is not None and self.login_hasher is not self.hasher:
            self.login_hasher.close()
