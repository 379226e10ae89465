"""Named limits over the shared rate-limit store (Redis for every node, or memory):
at most ``max`` hits of one key in ``window`` seconds from its first hit. Device
logins, web sign-in, email proof and the API all count through :class:`Limits`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.limitstore import RateLimitStore

# A limit and the key it counts, e.g. (IP_LIMIT, "192.0.2.0").
Counter = tuple["Limit", str]


@dataclass(frozen=True)
class Limit:
    """At most ``max`` hits (failures or requests) in ``window`` seconds."""

    name: str
    max: int
    window: float = 900.0

    @property
    def failures(self) -> int:
        """``max``, in the words of the limits that count failures (logins, codes)."""
        return self.max

    def key(self, key: str) -> str:
        return f"{self.name}:{key}"


@dataclass(frozen=True)
class Exceeded:
    limit: Limit
    retry_after: float


class Limits:
    def __init__(self, store: RateLimitStore) -> None:
        self.store = store

    async def counts(self, counters: Sequence[Counter]) -> list[int]:
        """The counts of several counters in one store round trip."""
        return await self.store.counts([limit.key(key) for limit, key in counters])

    async def exceeded(self, *counters: Counter) -> Exceeded | None:
        """The first counter at its limit, with its retry-after (at least 1 s)."""
        for (limit, key), count in zip(counters, await self.counts(counters), strict=True):
            if count >= limit.max:
                return Exceeded(limit, max(1.0, await self.store.retry_after(limit.key(key))))
        return None

    async def hit(self, *counters: Counter) -> None:
        """Count one hit on each counter (one round trip per window length)."""
        by_window: dict[float, list[str]] = defaultdict(list)
        for limit, key in counters:
            by_window[limit.window].append(limit.key(key))
        for window, keys in by_window.items():
            await self.store.increment(keys, window)

    async def clear(self, *counters: Counter) -> None:
        await self.store.clear([limit.key(key) for limit, key in counters])
