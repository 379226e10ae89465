"""``/healthz`` and ``/readyz``: is the process alive, and can this node serve.

Ready means the database answers, the key ring is loaded and every listener is up.
Redis is reported but does not make the node unready: without it, rate limits count in
memory (:class:`mailward.redis_limitstore.FallbackRateLimitStore`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import text

from mailward.db.engine import Database
from mailward.keys import ServerKeys
from mailward.limitstore import RateLimitStore
from mailward.redis_limitstore import FallbackRateLimitStore, RedisRateLimitStore

CHECK_SECONDS = 2.0


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, str] = field(default_factory=dict)


class NodeHealth:
    """What ``/readyz`` checks. ``listening`` is set once every listener accepts."""

    def __init__(self, db: Database, keys: ServerKeys, limit_store: RateLimitStore) -> None:
        self.db = db
        self.keys = keys
        self.limit_store = limit_store
        self.listening = False

    async def readiness(self) -> Readiness:
        checks = {
            "database": await self._database(),
            "key_ring": "ok" if self.keys.keys else "empty",
            "listeners": "ok" if self.listening else "starting",
            "redis": await self._redis(),
        }
        fatal = ("database", "key_ring", "listeners")
        return Readiness(all(checks[name] == "ok" for name in fatal), checks)

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(CHECK_SECONDS), self.db.unit_of_work() as uow:
                await uow.session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure is "not ready", said by its class
            return f"failing: {exc.__class__.__name__}"
        return "ok"

    async def _redis(self) -> str:
        store = self.limit_store
        if isinstance(store, FallbackRateLimitStore):
            store = store.primary
        if not isinstance(store, RedisRateLimitStore):
            return "not configured"
        try:
            async with asyncio.timeout(CHECK_SECONDS):
                await store.client.ping()
        except Exception as exc:  # reported, not fatal
            return f"failing: {exc.__class__.__name__} (limits count in memory)"
        return "ok"
