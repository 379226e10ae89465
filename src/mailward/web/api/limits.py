"""Named rate limits for the API, counted in the rate-limit store (Redis shared by
every node, or memory): a window per key, from its first request.

``api.ip`` counts every request of a client network (an IPv4 address or an IPv6 /64),
before any token is looked at; ``api.ip.bad_token`` counts a network's refused tokens
and, once exceeded, refuses further tokens from it before hashing; ``api.token`` counts
one token's requests.
"""

from __future__ import annotations

from mailward.core.limits import Limit, Limits
from mailward.errors import MailwardError
from mailward.limitstore import RateLimitStore


class ApiRateLimited(MailwardError):
    code = "rate-limited"

    def __init__(self, limit: str, retry_after: float) -> None:
        super().__init__(f"too many requests ({limit}); retry in {retry_after:.0f} seconds")
        self.limit = limit
        self.retry_after = retry_after


def api_limits(requests_per_minute: int = 1200) -> tuple[Limit, ...]:
    """Per client IP, per token (half of it), and refused tokens per IP (fixed: 20)."""
    return (
        Limit("api.ip", requests_per_minute, 60.0),
        Limit("api.ip.bad_token", 20, 60.0),
        Limit("api.token", max(1, requests_per_minute // 2), 60.0),
    )


DEFAULT_LIMITS = api_limits()


class ApiRateLimiter:
    """The limits on the rate-limit store: shared by every node when it is Redis."""

    def __init__(self, store: RateLimitStore, limits: tuple[Limit, ...] = DEFAULT_LIMITS) -> None:
        self.store = store
        self.counted = Limits(store)
        self.limits = {limit.name: limit for limit in limits}

    async def check(self, name: str, key: str) -> None:
        """Raise :class:`ApiRateLimited` if ``key`` is over the limit, without counting."""
        exceeded = await self.counted.exceeded((self.limits[name], key))
        if exceeded is not None:
            raise ApiRateLimited(name, exceeded.retry_after)

    async def hit(self, name: str, key: str) -> None:
        """Count one request, refusing it if the limit is already reached."""
        await self.check(name, key)
        await self.counted.hit((self.limits[name], key))
