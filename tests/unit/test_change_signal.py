"""Which change signal a database gets, and how the listener reaches PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from mailward.db.engine import Database
from mailward.db.notify import (
    NullChangeSignal,
    PostgresChangeSignal,
    asyncpg_dsn,
    change_signal_for,
)


def test_the_listener_connects_where_the_engine_does_password_included() -> None:
    url = make_url("postgresql+asyncpg://mailward:p%40ss@db.example:5433/mailward")
    assert asyncpg_dsn(url) == "postgresql://mailward:p%40ss@db.example:5433/mailward"


def test_the_dialect_tls_option_becomes_the_dsn_sslmode_and_its_own_options_stay_behind() -> None:
    url = make_url(
        "postgresql+asyncpg://mailward@db/mailward?ssl=require&prepared_statement_cache_size=0"
    )
    assert asyncpg_dsn(url) == "postgresql://mailward@db/mailward?sslmode=require"


async def test_postgresql_gets_notify_and_sqlite_gets_nothing(tmp_path: Path) -> None:
    postgres = Database("postgresql+asyncpg://mailward@db/mailward")
    sqlite = Database(f"sqlite+aiosqlite:///{tmp_path}/mailward.db")
    try:
        signal = change_signal_for(postgres, "mailward_device_changes")
        assert isinstance(signal, PostgresChangeSignal)
        assert signal.dsn == "postgresql://mailward@db/mailward"
        assert isinstance(change_signal_for(sqlite, "mailward_device_changes"), NullChangeSignal)
    finally:
        await postgres.dispose()
        await sqlite.dispose()
