"""The client side of bench/idle.py, and what a server costs.

Many authenticated IMAP sessions in IDLE on one event loop (raw asyncio sockets over
implicit TLS, no thread each), each watched until the server ends it (``BYE`` or end of
stream); and a server's memory (RSS and PSS from ``/proc/PID/smaps_rollup``) and CPU
time (``/proc/PID/stat``), summed over a process and its descendants.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CONCURRENT_OPENINGS = 16  # phones reconnecting at once; more only queue on the database
OPEN_PATIENCE = 60.0  # seconds for one session to log in and start idling
TRIES = 3  # a login answered "temporarily unavailable" is tried again, as a client would
Account = tuple[str, str]  # address, device password


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


CLIENT_TLS = client_tls()  # made once: a default context costs ~50 ms


def raise_open_files() -> int:
    """The soft limit of open files raised to the hard one (servers started from here
    inherit it); returns it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


@dataclass(eq=False)
class IdleSession:
    """One logged-in connection idling on INBOX; ``ended_at`` is when the server ended it."""

    address: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_at: float = 0.0
    _watch: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, port: int, address: str, password: str) -> IdleSession:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=CLIENT_TLS)
        session = cls(address, reader, writer)
        try:
            await reader.readline()  # greeting
            login = await session.command(b"a", f'LOGIN "{address}" "{password}"'.encode())
            if not login.startswith(b"a OK"):
                raise ConnectionError(f"login refused: {login!r}")
            await session.command(b"s", b"SELECT INBOX")
            writer.write(b"i IDLE\r\n")
            if not (await reader.readline()).startswith(b"+"):
                raise ConnectionError("IDLE refused")
        except BaseException:
            session.abort()
            raise
        session._watch = asyncio.create_task(session._wait_for_end())
        return session

    async def command(self, tag: bytes, text: bytes) -> bytes:
        self.writer.write(tag + b" " + text + b"\r\n")
        while True:
            line = await self.reader.readline()
            if not line or line.startswith(tag + b" "):
                return line

    async def _wait_for_end(self) -> None:
        """Lines the server sends while idling (Dovecot's "Still here") are read and
        dropped; ``BYE`` or the end of the stream marks the session ended."""
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            while True:
                line = await self.reader.readline()
                if not line or line.startswith(b"* BYE"):
                    break
        self.ended_at = time.perf_counter()
        self.ended.set()

    def abort(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self.writer.transport.abort()


@dataclass
class Opened:
    sessions: list[IdleSession]
    failures: int
    first_failure: str
    seconds: float


async def open_sessions(port: int, accounts: Iterable[Account]) -> Opened:
    """One idle session per account, ``CONCURRENT_OPENINGS`` logging in at a time."""
    gate = asyncio.Semaphore(CONCURRENT_OPENINGS)
    errors: list[str] = []

    async def one(account: Account) -> IdleSession | None:
        for attempt in range(1, TRIES + 1):
            async with gate:
                try:
                    async with asyncio.timeout(OPEN_PATIENCE):
                        return await IdleSession.open(port, *account)
                except (OSError, ssl.SSLError, TimeoutError, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
            if b"UNAVAILABLE" not in error.encode() or attempt == TRIES:
                break
            await asyncio.sleep(1.0)
        errors.append(error)
        return None

    started = time.monotonic()
    results = await asyncio.gather(*(one(account) for account in accounts))
    sessions = [s for s in results if s is not None]
    return Opened(sessions, len(errors), errors[0] if errors else "", time.monotonic() - started)


def close_sessions(sessions: Iterable[IdleSession]) -> None:
    for session in sessions:
        session.abort()


# -- the server's cost -----------------------------------------------------------------


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    pss_kib: int
    processes: int


def rollup(pid: int) -> dict[str, int]:
    """``/proc/PID/smaps_rollup`` as figures in KiB by name."""
    lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    return {name: int(value.split()[0]) for name, value in (line.split(":", 1) for line in lines)}


def memory(pids: Iterable[int]) -> Memory:
    """RSS and PSS summed over ``pids`` (processes gone meanwhile count nothing)."""
    rss = pss = count = 0
    for pid in pids:
        with contextlib.suppress(OSError, KeyError, ValueError):
            fields = rollup(pid)
            rss, pss, count = rss + fields["Rss"], pss + fields["Pss"], count + 1
    return Memory(rss, pss, count)


def cpu_seconds(pids: Iterable[int]) -> float:
    """User and system time so far, summed over ``pids``."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def cpu_percent(root: int, seconds: float) -> float:
    """The CPU the process tree of ``root`` uses over ``seconds``, in % of one core."""
    pids = descendants(root)
    before, started = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(seconds)
    used = cpu_seconds(pids) - before
    return round(100 * used / (time.monotonic() - started), 2)


async def steady_memory(root: int, patience: float = 60.0) -> Memory:
    """The tree's memory once its PSS stopped growing (under 0.5 % over two seconds)."""
    deadline = time.monotonic() + patience
    last = memory(descendants(root))
    while time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        now = memory(descendants(root))
        if abs(now.pss_kib - last.pss_kib) <= 0.005 * max(1, last.pss_kib):
            return now
        last = now
    return last
