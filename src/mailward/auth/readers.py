"""The three reads of the login path, for each kind of database.

``SqlAlchemyReader`` works everywhere. ``SqliteReader`` (the embedded plane's default)
answers these indexed point reads directly on the calling thread through a read-only
sqlite3 connection that never waits for a lock (about 15 µs, less than the wake-up of a
worker thread, which costs 70 to 200 µs here depending on how idle the CPU is). When
SQLite is busy (a checkpoint, a writer holding the file) the read goes instead to one
worker thread whose connection may wait. It sees every committed change (autocommit
reads, WAL).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mailward.db.engine import Database
from mailward.db.models import Address, Device, MailService

# A login finds only addresses of verified Mail Services (a pending domain is a claim,
# not a proof); the partial unique index on verified domains answers it in one lookup.
VERIFIED = MailService.verified_at.is_not(None)


class DirectoryUnavailable(Exception):
    """The database could not answer; the login gets a temporary failure."""


DATABASE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError, ConnectionError)


class DeviceColumns(NamedTuple):
    id: int
    name: str
    revoked_at: datetime | None
    expires_at: datetime | None
    allowed_protocols: str
    allowed_networks: str
    password_hash: str | None


class LoginReader(Protocol):
    async def address(self, local: str, domain: str) -> tuple[int, int] | None:
        """(address id, organization id) of ``local@domain``."""
        ...

    async def generated(
        self, address_id: int, lookups: Sequence[bytes]
    ) -> DeviceColumns | None: ...

    async def chosen(self, address_id: int) -> list[DeviceColumns]:
        """Chosen-password devices still kept as per-device Argon2id hashes (made before
        address salts; converted at their next login)."""
        ...

    async def salt(self, address_id: int) -> bytes | None:
        """The address's Argon2id salt of chosen passwords (None: it has none)."""
        ...

    async def close(self) -> None: ...


_COLUMNS = (
    Device.id,
    Device.name,
    Device.revoked_at,
    Device.expires_at,
    Device.allowed_protocols,
    Device.allowed_networks,
    Device.password_hash,
)


class SqlAlchemyReader:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def address(self, local: str, domain: str) -> tuple[int, int] | None:
        query = (
            select(Address.id, MailService.organization_id)
            .join(MailService, MailService.id == Address.mail_service_id)
            .where(MailService.domain == domain, VERIFIED, Address.local_part == local)
        )
        rows = await self._rows(query)
        return (rows[0][0], rows[0][1]) if rows else None

    async def generated(self, address_id: int, lookups: Sequence[bytes]) -> DeviceColumns | None:
        query = select(*_COLUMNS).where(
            Device.password_lookup.in_(list(lookups)), Device.address_id == address_id
        )
        rows = await self._rows(query)
        return DeviceColumns(*rows[0]) if rows else None

    async def chosen(self, address_id: int) -> list[DeviceColumns]:
        query = select(*_COLUMNS).where(
            Device.address_id == address_id,
            Device.revoked_at.is_(None),
            Device.password_kind == "chosen",
            Device.password_hash.is_not(None),
        )
        return [DeviceColumns(*row) for row in await self._rows(query)]

    async def salt(self, address_id: int) -> bytes | None:
        rows = await self._rows(select(Address.password_salt).where(Address.id == address_id))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    async def close(self) -> None:
        return None

    async def _rows(self, query: Any) -> list[Any]:
        try:
            async with self.db.engine.connect() as conn:
                return list(await conn.execute(query))
        except DATABASE_ERRORS as exc:
            raise DirectoryUnavailable(exc.__class__.__name__) from exc


_DEVICE_SQL = (
    "SELECT id, name, revoked_at, expires_at, allowed_protocols, allowed_networks,"
    " password_hash FROM devices WHERE "
)
_ADDRESS_SQL = (
    "SELECT addresses.id, mail_services.organization_id FROM addresses JOIN mail_services"
    " ON mail_services.id = addresses.mail_service_id"
    " WHERE mail_services.domain = ? AND mail_services.verified_at IS NOT NULL"
    " AND addresses.local_part = ?"
)
_CHOSEN_SQL = _DEVICE_SQL + (
    "address_id = ? AND revoked_at IS NULL AND password_kind = 'chosen'"
    " AND password_hash IS NOT NULL"
)
_SALT_SQL = "SELECT password_salt FROM addresses WHERE id = ?"


def _utc(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _device(row: tuple[Any, ...]) -> DeviceColumns:
    return DeviceColumns(row[0], row[1], _utc(row[2]), _utc(row[3]), row[4], row[5], row[6])


def _read_only(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    return conn


class SqliteReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auth-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = _read_only(self.path, 2000)
        return self._conn

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql, params).fetchall()

    def _fetch_now(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]] | None:
        """The read on the calling thread, or None when it would have to wait."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _read_only(self.path, 0)
            self._opened.append(conn)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return None
            raise

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        try:
            rows = self._fetch_now(sql, params)
            if rows is None:
                rows = await loop.run_in_executor(self._pool, self._fetch, sql, params)
            return rows
        except DATABASE_ERRORS as exc:
            raise DirectoryUnavailable(exc.__class__.__name__) from exc

    async def address(self, local: str, domain: str) -> tuple[int, int] | None:
        rows = await self._rows(_ADDRESS_SQL, (domain, local))
        return (rows[0][0], rows[0][1]) if rows else None

    async def generated(self, address_id: int, lookups: Sequence[bytes]) -> DeviceColumns | None:
        marks = ",".join("?" * len(lookups))
        sql = _DEVICE_SQL + f"password_lookup IN ({marks}) AND address_id = ?"
        rows = await self._rows(sql, (*lookups, address_id))
        return _device(rows[0]) if rows else None

    async def chosen(self, address_id: int) -> list[DeviceColumns]:
        return [_device(row) for row in await self._rows(_CHOSEN_SQL, (address_id,))]

    async def salt(self, address_id: int) -> bytes | None:
        rows = await self._rows(_SALT_SQL, (address_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, close)
        self._pool.shutdown(wait=False)
        for conn in self._opened:
            conn.close()
        self._opened.clear()


def reader_for(db: Database) -> LoginReader:
    """The fast SQLite reader for a file database, SQLAlchemy otherwise."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteReader(url.database)
    return SqlAlchemyReader(db)
