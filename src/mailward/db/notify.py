"""Wake-ups between processes when a change commits: PostgreSQL's LISTEN/NOTIFY, or
nothing on SQLite, where readers rely on their periodic poll alone.

A notification carries no data, only "look again": readers still read the committed
rows, so a lost or duplicated notification costs latency, never a change. That is why
it is sent after the change commits, in a transaction of its own, and not within the
change's transaction: PostgreSQL commits the transactions that notify one at a time
(a lock held through each one's WAL flush), which capped device changes at about 550 a
second on a 2-core machine, against about 2,100 without it (bench/scale_flow.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from mailward.db.engine import Database

log = logging.getLogger(__name__)

Wake = Callable[[], None]

LISTENER_NAME = "mailward change listener"  # application_name in pg_stat_activity


class ChangeSignal(Protocol):
    """Tells other processes that a change committed, and hears them tell it."""

    async def announce(self) -> None:
        """Signal a change that has committed. Never raises: a signal that could not be
        sent is logged, and readers find the change at their next poll."""
        ...

    async def listen(self, wake: Wake) -> None:
        """Call ``wake`` at each signal and after each (re)connection, until cancelled.
        Never raises otherwise: a lost connection is logged once and retried."""
        ...


class NullChangeSignal:
    """No signal (SQLite): readers poll."""

    async def announce(self) -> None:
        return None

    async def listen(self, wake: Wake) -> None:
        await asyncio.Event().wait()


class ListenerLost(ConnectionError):
    """The listening connection closed or stopped answering."""


@dataclass(eq=False)
class PostgresChangeSignal:
    """``pg_notify`` on one channel, sent through ``engine`` once a change committed
    (the calls made while one is being sent share the next one), heard through one
    dedicated asyncpg connection that reconnects by itself with a doubling backoff, and
    checks every ``check_seconds`` that the server still answers (a half-open connection
    would hear nothing)."""

    dsn: str = field(repr=False)  # holds the database password
    channel: str
    first_retry: float = 0.5
    last_retry: float = 30.0
    check_seconds: float = 30.0
    engine: AsyncEngine | None = field(default=None, repr=False)
    _lost: bool = field(default=False, init=False)
    _failing: bool = field(default=False, init=False)
    _asked: int = field(default=0, init=False)  # announce() calls so far
    _covered: int = field(default=0, init=False)  # those a signal sent since covers

    def __post_init__(self) -> None:
        self._retry = self.first_retry
        self._sending = asyncio.Lock()

    async def announce(self) -> None:
        self._asked += 1
        ticket = self._asked
        async with self._sending:
            if self._covered >= ticket:
                return  # a signal sent after this change committed woke the readers
            self._covered = self._asked
            await self._notify()

    async def _notify(self) -> None:
        """One NOTIFY in a transaction of its own. It carries no data, so its commit
        need not wait for the disk (``synchronous_commit`` off for it alone). A signal made
        without an engine only listens."""
        if self.engine is None:
            return
        try:
            async with self.engine.connect() as conn:
                await conn.execute(
                    text("SELECT set_config('synchronous_commit', 'off', true),"
                         " pg_notify(:channel, '')"),
                    {"channel": self.channel},
                )  # fmt: skip
                await conn.commit()
        except Exception as exc:  # the change is committed: readers poll for it
            if not self._failing:
                log.warning("change signal on %s not sent (%s)", self.channel, type(exc).__name__)
            self._failing = True
            return
        self._failing = False

    async def listen(self, wake: Wake) -> None:
        while True:
            try:
                await self._listen_until_lost(wake)
            except Exception as exc:  # any failure: the contract is to keep trying
                self._note_lost(exc)
            await asyncio.sleep(self._retry)
            self._retry = min(self._retry * 2, self.last_retry)

    async def _listen_until_lost(self, wake: Wake) -> None:
        conn = await asyncpg.connect(
            self.dsn, timeout=10, server_settings={"application_name": LISTENER_NAME}
        )
        try:
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            conn.add_termination_listener(lambda _conn: _settle(lost))
            await conn.add_listener(self.channel, lambda *_notification: wake())
            self._note_listening()
            wake()  # for the changes committed while nobody listened
            await self._watch(conn, lost)
        finally:
            await _close(conn)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Future[None]) -> None:
        """Return never; raise :class:`ListenerLost` once the connection is gone."""
        while True:
            done, _ = await asyncio.wait({lost}, timeout=self.check_seconds)
            if done or conn.is_closed():
                raise ListenerLost("the listening connection closed")
            await conn.execute("SELECT 1", timeout=10)

    def _note_lost(self, exc: Exception) -> None:
        if not self._lost:
            log.warning(
                "change listener on %s lost (%s); polling alone until it is back",
                self.channel,
                exc.__class__.__name__,
            )
        self._lost = True

    def _note_listening(self) -> None:
        if self._lost:
            log.info("change listener on %s is back", self.channel)
        self._lost = False
        self._retry = self.first_retry


def _settle(lost: asyncio.Future[None]) -> None:
    if not lost.done():
        lost.set_result(None)


async def _close(conn: asyncpg.Connection) -> None:
    """Close politely if the server answers in time, else drop the socket."""
    try:
        await conn.close(timeout=5)
    except Exception:
        conn.terminate()


SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


def asyncpg_dsn(url: URL) -> str:
    """asyncpg's DSN for a ``postgresql+asyncpg://`` SQLAlchemy URL, password included.
    The dialect's ``ssl=`` option is asyncpg's ``sslmode=`` in a DSN (any other unknown
    DSN option would be sent to the server as a setting and refused)."""
    query = {key: value for key, value in url.query.items() if key not in SQLALCHEMY_ONLY}
    if "ssl" in query:
        query.setdefault("sslmode", query.pop("ssl"))
    return url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def change_signal_for(db: Database, channel: str) -> ChangeSignal:
    """LISTEN/NOTIFY on PostgreSQL; nothing elsewhere."""
    if db.engine.dialect.name == "postgresql":
        return PostgresChangeSignal(asyncpg_dsn(db.engine.url), channel, engine=db.engine)
    return NullChangeSignal()
