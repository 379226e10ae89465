"""The database's part of a backup: a consistent snapshot taken while Mailward runs
(SQLite's online backup API; ``pg_dump``, one transaction, for PostgreSQL), and its
return (a file copy; ``pg_restore`` into the configured, empty database)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from mailward.backup.manifest import DATABASE_MEMBERS, BackupError, DatabaseKind

PG_TIMEOUT_SECONDS = 3600


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the configured database is: a SQLite file, or a PostgreSQL URL."""

    kind: DatabaseKind
    url: URL

    @classmethod
    def from_url(cls, text: str) -> DatabaseTarget:
        url = make_url(text)
        if url.get_backend_name() == "sqlite":
            return cls("sqlite", url)
        if url.get_backend_name() == "postgresql":
            return cls("postgresql", url)
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")

    @property
    def sqlite_path(self) -> Path:
        if not self.url.database or self.url.database == ":memory:":
            raise BackupError("the configured SQLite database is not a file")
        return Path(self.url.database)

    @property
    def member(self) -> str:
        """The archive member that holds this kind of database."""
        return DATABASE_MEMBERS[self.kind]


def sqlite_side_files(database: Path) -> list[Path]:
    """The files SQLite may keep beside ``database`` (write-ahead log, journal)."""
    return [database.with_name(database.name + side) for side in ("-wal", "-shm", "-journal")]


def snapshot_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (readers and writers keep going)."""
    if not source.is_file():
        raise BackupError(f"no database at {source}: nothing to back up")
    live = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        live.backup(copy)
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup of {source} failed: {exc}") from None
    finally:
        copy.close()
        live.close()


def sqlite_address_ids(snapshot: Path) -> set[int]:
    connection = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT id FROM addresses")}
    except sqlite3.Error as exc:
        raise BackupError(f"the database snapshot has no addresses table ({exc})") from None
    finally:
        connection.close()


def libpq_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/pg_restore and their environment: the password
    goes in PGPASSWORD, never on a command line other users can read."""
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    args += ["--dbname", url.database or "postgres"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed tools, arguments from settings
            command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{what} failed: {lines[0] if lines else f'exit {done.returncode}'}")
    return done.stdout


def dump_postgres(url: URL, target: Path) -> None:
    """``pg_dump`` in its custom format: one snapshot of the whole database."""
    args, env = libpq_args(url)
    _run([_tool("pg_dump"), "--format=custom", "--file", str(target), *args], env, "pg_dump")


def postgres_address_ids(dump: Path) -> set[int]:
    """The ids in the dump's addresses table (its COPY data, read back by pg_restore)."""
    text = _run(
        [_tool("pg_restore"), "--data-only", "--table=addresses", "--file=-", str(dump)],
        dict(os.environ),
        "reading the addresses of the dump",
    )
    ids, copying = set(), False
    for line in text.splitlines():
        if line.startswith("COPY ") and "addresses" in line:
            copying = True
        elif line == "\\.":
            copying = False
        elif copying and line:
            ids.add(int(line.split("\t", 1)[0]))
    return ids


def restore_postgres(url: URL, dump: Path, force: bool) -> None:
    """Load the dump into the configured database; ``force`` first drops what the dump
    holds (``--clean``), otherwise the database must have no tables."""
    args, env = libpq_args(url)
    command = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    if force:
        command += ["--clean", "--if-exists"]
    else:
        require_empty_postgres(url)
    _run([*command, *args, str(dump)], env, "pg_restore")


def require_empty_postgres(url: URL) -> None:
    args, env = libpq_args(url)
    query = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    out = _run([_tool("psql"), "--no-psqlrc", "-At", "-c", query, *args], env, "psql")
    if out.strip() != "0":
        raise BackupError(
            f"the database {url.database} on {url.host} already has tables: restore into "
            "an empty database (dropdb/createdb), or pass --force to replace them"
        )
