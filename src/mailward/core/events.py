"""Device change notices: published in-process at once, and read from the
``device_changes`` feed for changes made by other processes (the operator's CLI,
another node), so that caches and live sessions follow: at once where the database
signals commits (PostgreSQL's NOTIFY), within the poll interval otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from sqlalchemy import or_, select

from mailward.core.deps import DeviceChangeNotice
from mailward.db.engine import Database
from mailward.db.models import DeviceChange
from mailward.db.notify import ChangeSignal, NullChangeSignal

log = logging.getLogger(__name__)

Subscriber = Callable[[DeviceChangeNotice], Awaitable[None]]

DEVICE_CHANGES_CHANNEL = "mailward_device_changes"
BATCH = 1000  # changes read per query; a full batch is followed by another at once
MAX_HOLES = 500  # ids awaited at most (it bounds the query's IN list)
HOLE_SECONDS = 60.0  # a transaction open longer than this is taken as rolled back


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
    """Reads the changes other processes committed: one query on the primary key per
    poll, woken by the database's change signal and at least every ``interval`` (in
    case a signal is lost).

    Ids are taken when a row is inserted but become visible when its transaction
    commits, in any order, so a hole below the last id read may be a transaction still
    running. Holes are asked for again at every poll for ``hole_seconds`` (a hole that
    old is a rolled-back transaction); the hub drops what was already delivered."""

    def __init__(
        self,
        db: Database,
        hub: DeviceEventHub,
        interval: float,
        signal: ChangeSignal | None = None,
        hole_seconds: float = HOLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.hub = hub
        self.interval = interval
        self.signal = signal or NullChangeSignal()
        self.hole_seconds = hole_seconds
        self._monotonic = monotonic
        self._last_id: int | None = None
        self._holes: dict[int, float] = {}  # missing id -> when first missed, oldest first
        self._wake = asyncio.Event()
        self._failing = False

    @property
    def holes(self) -> frozenset[int]:
        """The ids below the last one read that are still awaited."""
        return frozenset(self._holes)

    async def start_position(self) -> None:
        """Start after the newest change, awaiting the holes among the recent ones."""
        async with self.db.unit_of_work() as uow:
            recent = list(
                await uow.session.scalars(
                    select(DeviceChange.id).order_by(DeviceChange.id.desc()).limit(MAX_HOLES)
                )
            )
        self._last_id = recent[0] if recent else 0
        present = set(recent)
        for missing in range(max(1, self._last_id - MAX_HOLES + 1), self._last_id):
            if missing not in present:
                self._holes[missing] = self._monotonic()

    async def poll_once(self) -> int:
        """Deliver the changes committed since the last poll; returns how many."""
        if self._last_id is None:
            await self.start_position()
        self._forget_old_holes()
        rows = await self._read()
        for change in rows:
            self._note_read(change.id)
            await self.hub.device_changed(
                DeviceChangeNotice(
                    change.device_id, change.address_id, change.kind, change.id, change.at
                )
            )
        return len(rows)

    async def _read(self) -> list[DeviceChange]:
        unread = DeviceChange.id > (self._last_id or 0)
        if self._holes:
            unread = or_(unread, DeviceChange.id.in_(list(self._holes)))
        async with self.db.unit_of_work() as uow:
            query = select(DeviceChange).where(unread).order_by(DeviceChange.id).limit(BATCH)
            return list(await uow.session.scalars(query))

    def _note_read(self, change_id: int) -> None:
        """Advance past ``change_id``, remembering the ids skipped on the way."""
        if self._holes.pop(change_id, None) is not None:
            return
        last = self._last_id or 0
        now = self._monotonic()
        for missing in range(max(last + 1, change_id - MAX_HOLES), change_id):
            self._holes[missing] = now
        while len(self._holes) > MAX_HOLES:
            del self._holes[next(iter(self._holes))]
        self._last_id = max(last, change_id)

    def _forget_old_holes(self) -> None:
        oldest_kept = self._monotonic() - self.hole_seconds
        while self._holes and next(iter(self._holes.values())) < oldest_kept:
            del self._holes[next(iter(self._holes))]

    async def run(self) -> None:
        """Poll until cancelled, at each signal and every interval; a database outage
        is logged and retried."""
        listening = asyncio.create_task(
            self.signal.listen(self._wake.set), name="device-change-listener"
        )
        try:
            while True:
                self._wake.clear()  # a signal from now on means one more poll
                if await self._poll_logged() < BATCH:
                    await self._next_wake()
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

    async def _poll_logged(self) -> int:
        """One poll; an outage is logged when it starts and when it ends, not at every
        poll (four a second)."""
        try:
            delivered = await self.poll_once()
        except Exception as exc:
            if not self._failing:
                log.warning("device change feed: %s; retrying", exc.__class__.__name__)
            self._failing = True
            return 0
        if self._failing:
            log.info("device change feed: reading again")
        self._failing = False
        return delivered

    async def _next_wake(self) -> None:
        """Wait for a signal (many coalesce into one) or the interval, whichever first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.interval)
