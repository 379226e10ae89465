"""The SQLite login reader answers on the calling thread, and falls back to its worker
thread (whose connection may wait) when SQLite is busy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailward.auth.readers import SqliteReader
from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from tests.support import make_settings, make_world, open_services


async def sqlite_world(tmp_path: Path) -> tuple[Services, str]:
    path = str(tmp_path / "mailward.db")
    services = await open_services(make_settings(tmp_path, f"sqlite+aiosqlite:///{path}"))
    await make_world(services)
    return services, path


class BusyConnection:
    """A connection on which SQLite answers "database is locked" at once."""

    def execute(self, *_args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    def close(self) -> None:
        return None


async def test_a_busy_database_sends_the_read_to_the_worker_thread(tmp_path: Path) -> None:
    services, path = await sqlite_world(tmp_path)
    reader = SqliteReader(path)
    try:
        assert await reader.address("info", "example.test") is not None
        reader._local.conn = BusyConnection()
        found = await reader.address("info", "example.test")
        assert found is not None
        assert reader._conn is not None
        assert await reader.address("nobody", "example.test") is None
    finally:
        await reader.close()
        await services.close()


async def test_the_reader_sees_a_device_added_after_it_opened(tmp_path: Path) -> None:
    services, path = await sqlite_world(tmp_path)
    reader = SqliteReader(path)
    try:
        found = await reader.address("info", "example.test")
        assert found is not None
        assert await reader.salt(found[0]) is None
        await services.devices.add(
            Actor.operator(),
            "info@example.test",
            "Phone",
            password="vivid-otter-clamps-17-brass-kettles",
        )
        assert await reader.salt(found[0]) is not None  # made with the first chosen password
        assert await reader.chosen(found[0]) == []  # salted: found by lookup, not one by one
    finally:
        await reader.close()
        await services.close()
