"""The two flows of bench/scale.py that run at a rate (issue 18):

- the last-used and login-history flush under 2,000 logins/s of distinct devices: a
  :class:`LastUsedRecorder` noted at that rate (as ``authenticate()`` notes a login)
  and flushed every ``last_used_flush_seconds`` as ``serve`` does; how long each flush
  takes, how many uses wait at each flush (queue depth), and whether it keeps up (each
  flush done before the next is due, nothing dropped, nothing left at the end);
- the device-change feed's lag with 1,000 changes/s: another process (this file run
  as ``python bench/scale_flow.py write URL ...``) commits device changes the way the
  device service does (a ``device_changes`` row per transaction, then the change
  signal, NOTIFY, coalesced) and a :class:`DeviceChangeFeed` of this process, with a
  hub of its own, hears them; lag = the notice reaching the feed's subscriber minus
  the writer's commit (both on the system-wide monotonic clock);
- and what the NOTIFY costs the side that commits changes: rows committed per second
  with the NOTIFY inside each change's transaction, after it (coalesced, as Mailward
  does), or none (``changes_per_s_notify_*``).

    python bench/scale_flow.py write URL COUNT RATE   # the writer, used by scale.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from mailward.auth.lastused import LastUsedRecorder
from mailward.bootstrap import Services
from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import DEVICE_CHANGES_CHANNEL, DeviceChangeFeed, DeviceEventHub
from mailward.db.engine import Database
from mailward.db.models import DeviceChange
from mailward.db.notify import asyncpg_dsn, change_signal_for

LOGINS_PER_S = 2_000
CHANGES_PER_S = 1_000
TICK = 0.01  # seconds between two bursts of logins or changes


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def paced(total: int, rate: int, act: Any) -> float:
    """Call ``act(k)`` for k in 0..total-1 at ``rate`` per second (bursts every TICK);
    returns the rate achieved."""
    start = time.monotonic()
    done = 0
    while done < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while done < due:
            await act(done)
            done += 1
        await asyncio.sleep(TICK)
    return total / (time.monotonic() - start)


# -- last used and login history ---------------------------------------------------------


async def measure_flush_rate(
    services: Services, first_device: int, devices: int, seconds: float = 15.0
) -> dict[str, Any]:
    """``seconds`` of LOGINS_PER_S logins, each of a device not seen before (``devices``
    consecutive ids from ``first_device``), flushed every flush interval."""
    interval = services.settings.last_used_flush_seconds
    recorder = LastUsedRecorder(services.db, interval)
    total = min(devices, int(seconds * LOGINS_PER_S))
    now = datetime.now(UTC)
    flush_ms: list[float] = []
    depths: list[int] = []
    stop = asyncio.Event()

    async def login(k: int) -> None:
        ip = f"198.51.{(k // 250) % 250}.{k % 250 + 1}"
        recorder.note(first_device + k, now, ip, "imap", "bench")

    async def flush() -> None:
        depths.append(recorder.pending + recorder.history.pending)
        started = time.perf_counter()
        await recorder.flush()
        flush_ms.append((time.perf_counter() - started) * 1000)

    async def flusher() -> None:
        while not stop.is_set():
            try:
                async with asyncio.timeout(interval):
                    await stop.wait()
            except TimeoutError:
                await flush()

    task = asyncio.create_task(flusher())
    rate = await paced(total, LOGINS_PER_S, login)
    stop.set()
    await task
    await flush()  # what the last interval left, as run() does when stopped
    left = recorder.pending + recorder.history.pending
    p95 = percentile(flush_ms, 95)
    return {
        "flush_interval_s": interval,
        "flush_logins": total,
        "flush_login_rate": round(rate),
        "flush_ms": [round(ms, 1) for ms in flush_ms],
        "flush_ms_p95": round(p95, 1),
        "flush_queue_depth_max": max(depths),
        "flush_dropped": recorder.history.dropped,
        "flush_keeps_up": p95 < interval * 1000 and left == 0 and not recorder.history.dropped,
    }


# -- the device-change feed ---------------------------------------------------------------


async def write_changes(url: str, count: int, rate: int, first_device: int) -> dict[int, float]:
    """Commit ``count`` device changes at ``rate`` per second from several connections,
    as the device service does: the ``device_changes`` row in a transaction of its own,
    then the process's change signal; returns id -> commit time."""
    db = Database(url)
    signal = change_signal_for(db, DEVICE_CHANGES_CHANNEL)
    committed: dict[int, float] = {}
    queue: asyncio.Queue[int | None] = asyncio.Queue()

    async def writer() -> None:
        while (k := await queue.get()) is not None:
            device = first_device + k
            async with db.engine.begin() as conn:
                change_id = await conn.scalar(
                    insert(DeviceChange)
                    .values(device_id=device, address_id=device // 10, kind="options",
                            at=datetime.now(UTC))
                    .returning(DeviceChange.id)
                )  # fmt: skip
            committed[change_id] = time.monotonic()
            await signal.announce()

    writers = [asyncio.create_task(writer()) for _ in range(8)]
    await paced(count, rate, lambda k: _put(queue, k))
    for _ in writers:
        queue.put_nowait(None)
    await asyncio.gather(*writers)
    await db.dispose()
    return committed


async def _put(queue: asyncio.Queue[int | None], k: int) -> None:
    queue.put_nowait(k)


async def measure_feed_lag(
    services: Services, url: str, first_device: int, seconds: float = 10.0
) -> dict[str, Any]:
    """CHANGES_PER_S changes for ``seconds``, committed by another process, heard by a
    feed of this one."""
    count = int(seconds * CHANGES_PER_S)
    heard: dict[int, float] = {}
    all_heard = asyncio.Event()
    hub = DeviceEventHub(remember=100_000)

    async def subscriber(notice: DeviceChangeNotice) -> None:
        heard[notice.change_id] = time.monotonic()
        if len(heard) >= count:
            all_heard.set()

    hub.subscribe_revocation(subscriber)
    feed = DeviceChangeFeed(
        services.db,
        hub,
        services.settings.device_change_poll_seconds,
        change_signal_for(services.db, DEVICE_CHANGES_CHANNEL),
    )
    await feed.start_position()
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(1)  # the listener connected
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "write", url, str(count), str(CHANGES_PER_S), str(first_device),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    committed = {int(k): v for k, v in json.loads(out.splitlines()[-1]).items()}
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):  # the last changes are heard after the writer ends
            await all_heard.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    times = list(committed.values())
    lags = [(heard[i] - at) * 1000 for i, at in committed.items() if i in heard]
    return {
        "feed_changes": len(committed),
        "feed_change_rate": round(len(committed) / (max(times) - min(times))),
        "feed_heard": len(lags),
        "feed_lag_ms_p50": round(statistics.median(lags), 1),
        "feed_lag_ms_p95": round(percentile(lags, 95), 1),
        "feed_lag_ms_max": round(max(lags), 1),
    }


# -- what NOTIFY costs the committing side ------------------------------------------------

INSERT_CHANGE = (
    "INSERT INTO bench_changes (device_id, address_id, kind, at)"
    " VALUES ($1, $1 / 10, 'options', now()) RETURNING id"
)


async def commit_rate(dsn: str, how: str, count: int = 4000, writers: int = 8) -> float:
    """Device-change rows committed per second at full speed by ``writers`` connections
    (asyncpg, no ORM): with the NOTIFY in each change's transaction (``inside``), after
    it in a transaction of its own shared by the changes committed meanwhile (``after``,
    what Mailward does), or none."""
    conns = [await asyncpg.connect(dsn) for _ in range(writers)]
    signal = await asyncpg.connect(dsn)
    sending, asked, covered = asyncio.Lock(), [0], [0]

    async def announce() -> None:  # PostgresChangeSignal.announce, on asyncpg
        asked[0] += 1
        ticket = asked[0]
        async with sending:
            if covered[0] < ticket:
                covered[0] = asked[0]
                async with signal.transaction():
                    await signal.execute(
                        "SELECT set_config('synchronous_commit', 'off', true), pg_notify('b', '')"
                    )

    async def write(conn: asyncpg.Connection, ks: range) -> None:
        for k in ks:
            async with conn.transaction():
                await conn.fetchval(INSERT_CHANGE, k)
                if how == "inside":
                    await conn.execute("SELECT pg_notify('b', '')")
            if how == "after":
                await announce()

    started = time.perf_counter()
    await asyncio.gather(*(write(c, range(i, count, writers)) for i, c in enumerate(conns)))
    rate = count / (time.perf_counter() - started)
    for conn in [*conns, signal]:
        await conn.close()
    return rate


async def measure_notify_cost(url: str) -> dict[str, int]:
    dsn = asyncpg_dsn(make_url(url))
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE bench_changes (LIKE device_changes INCLUDING ALL)")
    try:
        rates = {how: await commit_rate(dsn, how) for how in ("inside", "after", "none")}
    finally:
        await conn.execute("DROP TABLE bench_changes")
        await conn.close()
    return {f"changes_per_s_notify_{how}": round(rate) for how, rate in rates.items()}


def main() -> None:
    _, command, url, count, rate, first_device = sys.argv
    assert command == "write", command
    committed = asyncio.run(write_changes(url, int(count), int(rate), int(first_device)))
    print(json.dumps(committed))


if __name__ == "__main__":
    main()
