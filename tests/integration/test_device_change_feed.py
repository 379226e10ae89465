"""The device change feed never loses a change: a change that commits after a later one
was read is still delivered. On PostgreSQL a commit wakes the other nodes' feeds at
once (LISTEN/NOTIFY), the poll being only the safety net, and the listening connection
comes back by itself."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from mailward.auth.runtime import start_change_feed
from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import HOLE_SECONDS, DeviceChangeFeed, DeviceEventHub
from mailward.db.engine import Database
from mailward.db.models import DeviceChange
from mailward.db.notify import LISTENER_NAME, PostgresChangeSignal, Wake
from mailward.settings import Settings
from tests.support import (
    World,
    free_port,
    make_settings,
    running_services,
    wait_until,
)

SLOW_POLL = 30.0  # only a signal can explain a delivery within seconds
WITHIN = 5.0  # generous: the machine is shared
ON_POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, device_change_poll_seconds=SLOW_POLL)


class Heard:
    """The notices a hub delivered, in order, awaitable."""

    def __init__(self, hub: DeviceEventHub) -> None:
        self.notices: list[DeviceChangeNotice] = []
        self._more = asyncio.Event()
        hub.subscribe_revocation(self._hear)  # awaited: heard when poll_once returns

    async def _hear(self, notice: DeviceChangeNotice) -> None:
        self.notices.append(notice)
        self._more.set()

    @property
    def devices(self) -> list[int]:
        return [notice.device_id for notice in self.notices]

    async def device(self, device_id: int) -> None:
        async with asyncio.timeout(WITHIN):
            while device_id not in self.devices:
                self._more.clear()
                await self._more.wait()


class Stopwatch:
    """A monotonic clock for tests: stands still until moved."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def change(device_id: int, change_id: int | None = None) -> DeviceChange:
    at = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    return DeviceChange(id=change_id, device_id=device_id, address_id=1, kind="revoke", at=at)


async def write_change(db: Database, device_id: int, change_id: int | None = None) -> None:
    async with db.unit_of_work() as uow:
        uow.session.add(change(device_id, change_id))


async def write_changes_with_ids(db: Database, *ids: int) -> None:
    """Changes whose device id is their change id, written with explicit ids."""
    for change_id in ids:
        await write_change(db, change_id, change_id)


async def test_a_change_written_below_the_last_id_read_is_still_delivered(
    services: Services,
) -> None:
    heard = Heard(services.events)
    feed = services.change_feed()
    await feed.start_position()
    await write_changes_with_ids(services.db, 1, 3)
    assert await feed.poll_once() == 2
    assert feed.holes == {2}
    await write_changes_with_ids(services.db, 2)
    assert await feed.poll_once() == 1
    assert heard.devices == [1, 3, 2]
    assert feed.holes == set()
    assert await feed.poll_once() == 0


async def test_a_hole_is_awaited_for_a_minute_then_taken_for_a_rolled_back_change(
    services: Services,
) -> None:
    stopwatch = Stopwatch()
    feed = DeviceChangeFeed(services.db, services.events, SLOW_POLL, monotonic=stopwatch)
    await feed.start_position()
    await write_changes_with_ids(services.db, 1, 3)
    await feed.poll_once()
    stopwatch.seconds += HOLE_SECONDS - 1
    await feed.poll_once()
    assert feed.holes == {2}
    stopwatch.seconds += 2
    await feed.poll_once()
    assert feed.holes == set()


async def test_holes_among_the_recent_changes_are_awaited_from_the_start(
    services: Services,
) -> None:
    await write_changes_with_ids(services.db, 1, 2, 4)
    heard = Heard(services.events)
    feed = services.change_feed()
    await feed.start_position()
    assert feed.holes == {3}
    await write_changes_with_ids(services.db, 3, 5)
    assert await feed.poll_once() == 2
    assert heard.devices == [3, 5]


@ON_POSTGRES
async def test_a_change_committed_after_a_later_one_was_read_is_still_delivered(
    services: Services,
) -> None:
    heard = Heard(services.events)
    feed = services.change_feed()
    await feed.start_position()
    async with services.db.sessions() as slow:
        slow.add(change(device_id=1))
        await slow.flush()  # takes its id now, commits later
        await write_change(services.db, device_id=2)
        assert await feed.poll_once() == 1
        assert heard.devices == [2]
        await slow.commit()
    assert await feed.poll_once() == 1
    assert heard.devices == [2, 1]


class SignalByHand:
    """A change signal the test fires itself."""

    def __init__(self) -> None:
        self.wake: Wake = lambda: None
        self.listening = asyncio.Event()

    async def announce(self) -> None:
        return None

    async def listen(self, wake: Wake) -> None:
        self.wake = wake
        self.listening.set()
        await asyncio.Event().wait()


async def test_a_burst_of_signals_wakes_one_poll_not_one_per_signal(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    signal = SignalByHand()
    feed = DeviceChangeFeed(services.db, services.events, SLOW_POLL, signal)
    polls: asyncio.Queue[int] = asyncio.Queue()
    poll_once = feed.poll_once

    async def counted() -> int:
        await polls.put(await poll_once())
        return 0

    monkeypatch.setattr(feed, "poll_once", counted)
    task = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(WITHIN):
            await signal.listening.wait()
            await polls.get()  # the first poll, at start
            for _ in range(50):
                signal.wake()
            await polls.get()
        await asyncio.sleep(0.3)
        assert polls.empty()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def listener_pids(db: Database) -> set[int]:
    """The backends listening for changes on this database."""
    query = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = :name AND state = 'idle' AND query LIKE 'LISTEN%'"
    )
    async with db.unit_of_work() as uow:
        return set(await uow.session.scalars(query, {"name": LISTENER_NAME}))


async def new_listener(db: Database, known: frozenset[int] = frozenset()) -> int:
    """The pid of a listener not in ``known``, once it listens (within 10 s)."""
    fresh: set[int] = set()

    async def listening() -> bool:
        fresh.update(await listener_pids(db) - known)
        return bool(fresh)

    await wait_until(listening, what="a listener came up")
    return fresh.pop()


@pytest.fixture
async def running_feed(world: World) -> AsyncIterator[asyncio.Task[None]]:
    task = await start_change_feed(world.services)
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.fixture
async def other_node(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    async for other in running_services(settings, clock):
        yield other


async def add_device(node: Services, world: World, name: str) -> int:
    new = await node.devices.add(world.admin, world.address, name)
    return new.device.id


@ON_POSTGRES
@pytest.mark.usefixtures("running_feed")
async def test_each_change_by_another_node_arrives_at_once_not_at_the_next_poll(
    world: World, other_node: Services
) -> None:
    heard = Heard(world.services.events)
    await new_listener(world.services.db)
    for name in ("Phone", "Tablet", "Laptop"):
        await heard.device(await add_device(other_node, world, name))
    assert world.services.settings.device_change_poll_seconds == SLOW_POLL


@ON_POSTGRES
@pytest.mark.usefixtures("running_feed")
async def test_changes_committed_side_by_side_all_arrive_without_waiting_for_the_poll(
    world: World, other_node: Services
) -> None:
    heard = Heard(world.services.events)
    await new_listener(world.services.db)
    added = await asyncio.gather(*(add_device(other_node, world, f"Phone {n}") for n in range(12)))
    for device_id in added:
        await heard.device(device_id)


@ON_POSTGRES
async def test_announcements_made_while_one_is_sent_share_the_next_notification(
    world: World,
) -> None:
    signal = world.services.deps.device_change_signal
    assert isinstance(signal, PostgresChangeSignal)
    listener = await asyncpg.connect(signal.dsn)
    heard: list[None] = []
    await listener.add_listener(signal.channel, lambda *_: heard.append(None))
    try:
        await asyncio.gather(*(signal.announce() for _ in range(20)))
        await signal.announce()  # after the burst: one of its own
        await wait_until(lambda: len(heard) >= 3, what="the notifications")
    finally:
        await listener.close()
    assert len(heard) == 3  # the first call's, one shared by the 19 that waited, the last


@ON_POSTGRES
@pytest.mark.usefixtures("running_feed")
async def test_the_listener_comes_back_after_its_connection_is_terminated(
    world: World, other_node: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailward.db.notify")
    heard = Heard(world.services.events)
    first = await new_listener(world.services.db)
    async with world.services.db.unit_of_work() as uow:
        await uow.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    await new_listener(world.services.db, known=frozenset({first}))
    await heard.device(await add_device(other_node, world, "Phone"))
    assert [record.levelname for record in caplog.records] == ["WARNING", "INFO"]


async def test_a_listener_without_a_server_logs_once_and_keeps_trying(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    connect = asyncpg.connect

    async def counted(dsn: str, **options: object) -> object:
        attempts.append(dsn)
        return await connect(dsn, **options)

    monkeypatch.setattr(asyncpg, "connect", counted)
    dsn = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    signal = PostgresChangeSignal(dsn, "mailward_test", first_retry=0.01, last_retry=0.02)
    woken: list[None] = []
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(signal.listen(lambda: woken.append(None)), timeout=0.5)
    assert len(attempts) > 3
    assert len(caplog.records) == 1
    assert "polling alone" in caplog.text
    assert woken == []


async def test_a_database_outage_is_logged_once_not_at_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mailward.core.devices.changes")
    dead = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    feed = DeviceChangeFeed(dead, DeviceEventHub(), interval=0.01)
    try:
        for _ in range(5):
            assert await feed._poll_logged() == 0
    finally:
        await dead.dispose()
    assert [record.levelname for record in caplog.records] == ["WARNING"]
