"""Named, in-memory rate limits for the API (one process; a sliding window per key).

``api.ip`` counts every request of a client IP, before any token is looked at;
``api.ip.bad_token`` counts a client IP's refused tokens and, once exceeded, refuses
further tokens from it before hashing; ``api.token`` counts one token's requests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from mailward.errors import MailwardError

MAX_KEYS_PER_LIMIT = 100_000


class ApiRateLimited(MailwardError):
    code = "rate-limited"

    def __init__(self, limit: str, retry_after: float) -> None:
        super().__init__(f"too many requests ({limit}); retry in {retry_after:.0f} seconds")
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    per_seconds: float


def api_limits(requests_per_minute: int = 1200) -> tuple[Limit, ...]:
    """Per client IP, per token (half of it), and refused tokens per IP (fixed: 20)."""
    return (
        Limit("api.ip", requests_per_minute, 60.0),
        Limit("api.ip.bad_token", 20, 60.0),
        Limit("api.token", max(1, requests_per_minute // 2), 60.0),
    )


DEFAULT_LIMITS = api_limits()


class MemoryRateLimiter:
    def __init__(
        self,
        limits: tuple[Limit, ...] = DEFAULT_LIMITS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {limit.name: limit for limit in limits}
        self.monotonic = monotonic
        self._hits: dict[str, dict[str, deque[float]]] = {name: {} for name in self.limits}

    def _window(self, name: str, key: str) -> deque[float]:
        windows = self._hits[name]
        if key not in windows and len(windows) >= MAX_KEYS_PER_LIMIT:
            windows.pop(next(iter(windows)))
        window = windows.setdefault(key, deque())
        horizon = self.monotonic() - self.limits[name].per_seconds
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def check(self, name: str, key: str) -> None:
        """Raise :class:`ApiRateLimited` if ``key`` is over the limit, without counting."""
        limit = self.limits[name]
        window = self._window(name, key)
        if len(window) >= limit.max_hits:
            retry_after = max(1.0, window[0] + limit.per_seconds - self.monotonic())
            raise ApiRateLimited(name, retry_after)

    def hit(self, name: str, key: str) -> None:
        """Count one request, refusing it if the limit is already reached."""
        self.check(name, key)
        self._window(name, key).append(self.monotonic())
