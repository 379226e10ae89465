"""Rate-limit counters in Redis, shared by every node; memory when Redis fails.

A broken Redis must never lock everybody out nor let the login path hang: each call
has a short timeout, an error is logged (at most once per ``quiet_seconds``) and the
in-memory store answers until Redis is tried again after ``retry_seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Self, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from mailward.limitstore import MemoryRateLimitStore, Monotonic, RateLimitStore
from mailward.ops.metrics import REDIS_ERRORS
from mailward.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisRateLimitStore:
    """The store on one Redis server, keys under ``prefix``."""

    def __init__(self, client: Redis, prefix: str = "mailward:rl:") -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "mailward:rl:", timeout: float = 0.5) -> Self:
        client = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, prefix)

    async def counts(self, keys: Sequence[str]) -> list[int]:
        values = await self.client.mget([self.prefix + k for k in keys])
        return [int(v) if v is not None else 0 for v in values]

    async def retry_after(self, key: str) -> float:
        ms = await self.client.pttl(self.prefix + key)
        return max(0.0, ms / 1000) if ms and ms > 0 else 0.0

    async def increment(self, keys: Sequence[str], window: float) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.set(self.prefix + key, 0, px=_ms(window), nx=True)
                pipe.incr(self.prefix + key)
            await pipe.execute()

    async def add_flag(self, key: str, ttl: float) -> bool:
        return bool(await self.client.set(self.prefix + key, 1, px=_ms(ttl), nx=True))

    async def has_flag(self, key: str) -> bool:
        return bool(await self.client.exists(self.prefix + key))

    async def set_flag(self, key: str, ttl: float) -> None:
        await self.client.set(self.prefix + key, 1, px=_ms(ttl))

    async def clear(self, keys: Sequence[str]) -> None:
        if keys:
            await self.client.delete(*[self.prefix + k for k in keys])

    async def close(self) -> None:
        await self.client.aclose()


class FallbackRateLimitStore:
    """Redis first; the memory store while Redis is broken."""

    def __init__(
        self,
        primary: RedisRateLimitStore,
        fallback: MemoryRateLimitStore | None = None,
        retry_seconds: float = 5.0,
        quiet_seconds: float = 60.0,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryRateLimitStore(monotonic)
        self.retry_seconds = retry_seconds
        self.quiet_seconds = quiet_seconds
        self._now = monotonic
        self._broken_until = 0.0
        self._last_logged = -math.inf
        self._suspect = False
        self._probing = False
        self.failures = 0

    async def _use(
        self, primary: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]
    ) -> T:
        """After a failure, one call at a time tries Redis again (the others count in
        memory meanwhile): a Redis that stopped answering makes one login wait for its
        timeout every ``retry_seconds``, not every login of a flood."""
        if self._now() < self._broken_until or self._probing:
            return await fallback()
        probe = self._suspect
        self._probing = probe
        try:
            result = await primary()
        except (RedisError, OSError, TimeoutError) as exc:
            self._broken(exc)
            return await fallback()
        finally:
            if probe:
                self._probing = False
        self._suspect = False
        return result

    def _broken(self, exc: BaseException) -> None:
        REDIS_ERRORS.inc()
        self.failures += 1
        self._suspect = True
        now = self._now()
        self._broken_until = now + self.retry_seconds
        if now - self._last_logged >= self.quiet_seconds:
            self._last_logged = now
            log.warning(
                "rate-limit store: Redis unavailable (%s); counting in memory for now",
                exc.__class__.__name__,
            )

    async def counts(self, keys: Sequence[str]) -> list[int]:
        return await self._use(
            lambda: self.primary.counts(keys), lambda: self.fallback.counts(keys)
        )

    async def retry_after(self, key: str) -> float:
        return await self._use(
            lambda: self.primary.retry_after(key), lambda: self.fallback.retry_after(key)
        )

    async def increment(self, keys: Sequence[str], window: float) -> None:
        await self._use(
            lambda: self.primary.increment(keys, window),
            lambda: self.fallback.increment(keys, window),
        )

    async def add_flag(self, key: str, ttl: float) -> bool:
        return await self._use(
            lambda: self.primary.add_flag(key, ttl), lambda: self.fallback.add_flag(key, ttl)
        )

    async def has_flag(self, key: str) -> bool:
        return await self._use(
            lambda: self.primary.has_flag(key), lambda: self.fallback.has_flag(key)
        )

    async def set_flag(self, key: str, ttl: float) -> None:
        await self._use(
            lambda: self.primary.set_flag(key, ttl), lambda: self.fallback.set_flag(key, ttl)
        )

    async def clear(self, keys: Sequence[str]) -> None:
        # Both: failures counted in memory during an outage are forgotten as well.
        await self.fallback.clear(keys)
        await self._use(lambda: self.primary.clear(keys), lambda: self.fallback.clear(keys))

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.primary.close()


def make_rate_limit_store(settings: Settings, prefix: str = "mailward:rl:") -> RateLimitStore:
    """Redis (falling back to memory while broken) when ``redis_url`` is set, else memory."""
    if settings.redis_url:
        return FallbackRateLimitStore(RedisRateLimitStore.from_url(settings.redis_url, prefix))
    return MemoryRateLimitStore()
