"""The database handle: an async engine, its session factory and units of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mailward.errors import Conflict

AfterCommit = Callable[[], Awaitable[None]]
CONCURRENT_CHANGE = (
    "this conflicts with something that already exists or was just changed by someone "
    "else (the same name twice, or the same request sent twice); reload and try again"
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, echo: bool = False) -> AsyncEngine:
    options: dict[str, Any] = {"echo": echo}
    if not url.startswith("sqlite"):
        options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class UnitOfWork:
    """One transaction. Commits on a clean exit, rolls back on an error; callbacks
    registered with :meth:`after_commit` run once the commit succeeded. A unique or
    foreign-key violation (two requests racing to create the same thing) becomes
    :class:`Conflict`, which every edge answers with a clear 4xx."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await self.session.commit()
            else:
                await self.session.rollback()
        except IntegrityError as error:
            await self.session.rollback()
            raise Conflict(CONCURRENT_CHANGE) from error
        finally:
            await self.session.close()
        if isinstance(exc, IntegrityError):
            raise Conflict(CONCURRENT_CHANGE) from exc
        if exc_type is None:
            for callback in self._after_commit:
                await callback()


class Database:
    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions())

    async def dispose(self) -> None:
        await self.engine.dispose()
