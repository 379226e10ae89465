"""Where rate-limit counters live: in memory (one process) or in Redis (shared, see
:mod:`mailward.redis_limitstore`).

A store knows fixed-window counters and flags with a lifetime, nothing about logins.
Every limit of the product uses one (device logins, web sign-in, TOTP codes, the API),
each under its own key names. Keys hold addresses, IPs and ids, never a password, a
code or a token (fingerprints are keyed hashes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

Monotonic = Callable[[], float]


class RateLimitStore(Protocol):
    async def counts(self, keys: Sequence[str]) -> list[int]:
        """The current count of each key (0 when absent or expired)."""
        ...

    async def retry_after(self, key: str) -> float:
        """Seconds until the key's window ends (0 when absent)."""
        ...

    async def increment(self, keys: Sequence[str], window: float) -> None:
        """Add one to each key; a key's window starts with its first increment."""
        ...

    async def add_flag(self, key: str, ttl: float) -> bool:
        """Set a flag for ``ttl`` seconds; True when it was not already set."""
        ...

    async def has_flag(self, key: str) -> bool: ...

    async def set_flag(self, key: str, ttl: float) -> None:
        """Set or refresh a flag for ``ttl`` seconds."""
        ...

    async def clear(self, keys: Sequence[str]) -> None:
        """Forget these counters and flags (absent keys are ignored)."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


class MemoryRateLimitStore:
    """Counters in a dict, swept of expired entries now and then; bounded in size."""

    def __init__(self, monotonic: Monotonic = time.monotonic, max_keys: int = 200_000) -> None:
        self._now = monotonic
        self._max_keys = max_keys
        self._entries: dict[str, tuple[int, float]] = {}
        self._writes = 0

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._now():
            del self._entries[key]
            return None
        return entry

    async def counts(self, keys: Sequence[str]) -> list[int]:
        return [entry[0] if (entry := self._live(k)) else 0 for k in keys]

    async def retry_after(self, key: str) -> float:
        entry = self._live(key)
        return max(0.0, entry[1] - self._now()) if entry else 0.0

    async def increment(self, keys: Sequence[str], window: float) -> None:
        now = self._now()
        for key in keys:
            entry = self._live(key)
            self._entries[key] = (entry[0] + 1, entry[1]) if entry else (1, now + window)
        self._after_write(len(keys))

    async def add_flag(self, key: str, ttl: float) -> bool:
        if self._live(key):
            return False
        self._entries[key] = (1, self._now() + ttl)
        self._after_write(1)
        return True

    async def has_flag(self, key: str) -> bool:
        return self._live(key) is not None

    async def set_flag(self, key: str, ttl: float) -> None:
        self._entries[key] = (1, self._now() + ttl)
        self._after_write(1)

    async def clear(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def close(self) -> None:
        return None

    def _after_write(self, count: int) -> None:
        self._writes += count
        if self._writes < 10_000 and len(self._entries) < self._max_keys:
            return
        self._writes = 0
        now = self._now()
        self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
        if len(self._entries) >= self._max_keys:
            # Under a flood of distinct keys, forget the oldest windows first.
            keep = sorted(self._entries.items(), key=lambda kv: kv[1][1])[-self._max_keys // 2 :]
            self._entries = dict(keep)
