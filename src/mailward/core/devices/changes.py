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


REVOCATION_SECONDS = 5.0  # a revocation subscriber awaited at most this long per change
BACKGROUND_SECONDS = 60.0  # a background subscriber given at most this long per change
BACKLOG = 1000  # changes waiting for one background subscriber, at most


class BackgroundSubscriber:
    """A subscriber run off the path of the change: its notices wait in a bounded queue
    and are handed over in order by a task of its own, so a slow one (a smarthost that
    never answers) delays neither revocation, nor the request, nor other subscribers."""

    def __init__(self, subscriber: Subscriber, only_here: bool, backlog: int = BACKLOG) -> None:
        self.subscriber = subscriber
        self.only_here = only_here
        self.backlog = backlog
        self.name = getattr(subscriber, "__qualname__", repr(subscriber))
        self._queue: asyncio.Queue[DeviceChangeNotice] = asyncio.Queue(backlog)
        self._task: asyncio.Task[None] | None = None

    def put(self, notice: DeviceChangeNotice) -> None:
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue(self.backlog)
            self._task = asyncio.create_task(self._run(self._queue), name=f"hub {self.name}")
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.warning(
                "%s is %d changes behind; change %s skipped",
                self.name,
                self.backlog,
                notice.change_id,
            )

    async def _run(self, queue: asyncio.Queue[DeviceChangeNotice]) -> None:
        while True:
            notice = await queue.get()
            try:
                async with asyncio.timeout(BACKGROUND_SECONDS):  # not wait_for: see _next_wake
                    await self.subscriber(notice)
            except TimeoutError:
                log.warning(
                    "%s gave up on change %s after %.0f s",
                    self.name,
                    notice.change_id,
                    BACKGROUND_SECONDS,
                )
            except Exception:
                log.exception("device change subscriber %s failed", self.name)
            finally:
                queue.task_done()

    async def close(self, grace: float) -> None:
        """Let the queued changes through for up to ``grace`` seconds, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        if not task.done() and task.get_loop() is asyncio.get_running_loop():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._queue.join()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await task


class RecentChanges:
    """The last ``remember`` change ids met; a notice without an id is always new."""

    def __init__(self, remember: int) -> None:
        self._order: deque[int] = deque(maxlen=remember)
        self._ids: set[int] = set()

    def first(self, change_id: int) -> bool:
        """True the first time ``change_id`` is met (and for no id at all)."""
        if not change_id:
            return True
        if change_id in self._ids:
            return False
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])
        self._order.append(change_id)
        self._ids.add(change_id)
        return True


class DeviceEventHub:
    """Fans a notice out to subscribers, revocation first. Each change is delivered once
    per process, whichever way it arrived first.

    * Revocation subscribers (credential cache, live sessions, Dovecot kick) end access:
      they run first, side by side, and the change waits for them at most
      ``revocation_seconds`` each (one still running then is logged and left to finish).
    * Every other subscriber (security notices...) runs in the background, after them.
      ``only_here`` ones hear only the changes made in this process, not those read from
      the change feed, so that one change makes one notice however many nodes run."""

    def __init__(
        self, remember: int = 4096, revocation_seconds: float = REVOCATION_SECONDS
    ) -> None:
        self.revocation_seconds = revocation_seconds
        self._revocation: list[Subscriber] = []
        self._background: list[BackgroundSubscriber] = []
        self._late: set[asyncio.Task[None]] = set()
        self._seen = RecentChanges(remember)  # delivered, whichever way they came
        self._made_here = RecentChanges(remember)  # published by this process

    def subscribe_revocation(self, subscriber: Subscriber) -> None:
        """``subscriber`` ends access (drops credentials, ends sessions); must be quick."""
        self._revocation.append(subscriber)

    def subscribe(self, subscriber: Subscriber, only_here: bool = False) -> None:
        """``subscriber`` runs in the background, after the revocation subscribers."""
        self._background.append(BackgroundSubscriber(subscriber, only_here))

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        """A change made (and committed) in this process."""
        await self._deliver(notice, here=True)

    async def changed_elsewhere(self, notice: DeviceChangeNotice) -> None:
        """A change another process made, read from the change feed."""
        await self._deliver(notice, here=False)

    async def _deliver(self, notice: DeviceChangeNotice, here: bool) -> None:
        """Revocation and the other subscribers once per change; ``only_here`` ones once
        per change made here, even when this process's own feed read it first (the
        database signals the commit before the change is published here)."""
        first = self._seen.first(notice.change_id)
        first_here = here and self._made_here.first(notice.change_id)
        if first:
            await self._revoke(notice)
        for background in self._background:
            if first_here if background.only_here else first:
                background.put(notice)

    async def _revoke(self, notice: DeviceChangeNotice) -> None:
        if not self._revocation:
            return
        tasks = [asyncio.create_task(_logged(s, notice)) for s in self._revocation]
        _, pending = await asyncio.wait(tasks, timeout=self.revocation_seconds)
        for task in pending:
            log.warning(
                "revocation of device %s: a subscriber still runs after %.1f s",
                notice.device_id,
                self.revocation_seconds,
            )
            self._late.add(task)
            task.add_done_callback(self._late.discard)

    async def close(self, grace: float = 5.0) -> None:
        """Give background subscribers ``grace`` seconds to finish, then stop them."""
        for background in self._background:
            await background.close(grace)
        for task in list(self._late):
            task.cancel()


async def _logged(subscriber: Subscriber, notice: DeviceChangeNotice) -> None:
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
            await self.hub.changed_elsewhere(
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
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
        # lands as the wait completes, and a feed being stopped ran on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.interval):
                await self._wake.wait()
