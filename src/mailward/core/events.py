"""Device change notices: published in-process at once, and read from the
``device_changes`` feed for changes made by other processes (the operator's CLI,
another node), so that caches and live sessions follow within a second."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from mailward.core.deps import DeviceChangeNotice
from mailward.db.engine import Database
from mailward.db.models import DeviceChange

log = logging.getLogger(__name__)

Subscriber = Callable[[DeviceChangeNotice], Awaitable[None]]


class DeviceEventHub:
    """Fans a notice out to subscribers (credential cache, session registry...). Each
    change is delivered once per process, whichever way it arrived first."""

    def __init__(self, remember: int = 4096) -> None:
        self._subscribers: list[Subscriber] = []
        self._seen: deque[int] = deque(maxlen=remember)
        self._seen_set: set[int] = set()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        if notice.change_id:
            if notice.change_id in self._seen_set:
                return
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(notice.change_id)
            self._seen_set.add(notice.change_id)
        for subscriber in self._subscribers:
            try:
                await subscriber(notice)
            except Exception:
                log.exception("device change subscriber failed")


class DeviceChangeFeed:
    """Polls the feed table; one indexed query per interval."""

    def __init__(self, db: Database, hub: DeviceEventHub, interval: float) -> None:
        self.db = db
        self.hub = hub
        self.interval = interval
        self._last_id: int | None = None

    async def start_position(self) -> None:
        async with self.db.unit_of_work() as uow:
            self._last_id = await uow.session.scalar(select(func.max(DeviceChange.id))) or 0

    async def poll_once(self) -> int:
        if self._last_id is None:
            await self.start_position()
        async with self.db.unit_of_work() as uow:
            rows = list(
                await uow.session.scalars(
                    select(DeviceChange)
                    .where(DeviceChange.id > (self._last_id or 0))
                    .order_by(DeviceChange.id)
                    .limit(1000)
                )
            )
        for change in rows:
            self._last_id = change.id
            await self.hub.device_changed(
                DeviceChangeNotice(
                    change.device_id, change.address_id, change.kind, change.id, change.at
                )
            )
        return len(rows)

    async def run(self) -> None:
        """Poll until cancelled; a database outage is logged and retried."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("device change feed: %s", exc.__class__.__name__)
            await asyncio.sleep(self.interval)
