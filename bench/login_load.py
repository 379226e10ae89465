"""The load generator of bench/dovecot_login.py: concurrent IMAP clients, each looping
connect + TLS + LOGIN + LOGOUT on an implicit-TLS port, bounded in time and count; and
the CPU time a server's process tree spends meanwhile (read from /proc)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLIENTS = 16
MAX_LOGINS = 100_000  # a bound on top of the time bound
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One measured window of one target."""

    logins: int = 0
    failures: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by server part
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.logins / self.seconds if self.seconds else 0.0


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def one_login(port: int, tls: ssl.SSLContext, user: str, password: str) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    try:
        await reader.readline()
        writer.write(f"a LOGIN {quote(user)} {quote(password)}\r\n".encode())
        ok = await _tagged(reader, b"a ")
        writer.write(b"b LOGOUT\r\n")
        await _tagged(reader, b"b ")
        return ok
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def _tagged(reader: asyncio.StreamReader, tag: bytes) -> bool:
    while line := await reader.readline():
        if line.startswith(tag):
            return line[len(tag) :].startswith(b"OK")
    return False


async def _client(
    port: int, tls: ssl.SSLContext, account: tuple[str, str], until: float, sample: Sample
) -> None:
    while time.monotonic() < until and sample.logins + sample.failures < MAX_LOGINS:
        start = time.monotonic()
        try:
            ok = await asyncio.wait_for(one_login(port, tls, *account), 30)
        except (OSError, TimeoutError, ssl.SSLError):
            ok = False
        if ok:
            sample.logins += 1
            sample.latencies.append(time.monotonic() - start)
        else:
            sample.failures += 1


async def _load(port: int, accounts: Sequence[tuple[str, str]], seconds: float) -> Sample:
    tls = client_tls()
    sample = Sample()
    start = time.monotonic()
    clients = (
        _client(port, tls, accounts[i % len(accounts)], start + seconds, sample)
        for i in range(CLIENTS)
    )
    await asyncio.gather(*clients)
    sample.seconds = time.monotonic() - start
    return sample


def measure(
    port: int,
    accounts: Sequence[tuple[str, str]],
    seconds: float,
    server_parts: Mapping[str, Sequence[int]],
    warm_up: float = 1.0,
) -> Sample:
    """Warm up for ``warm_up`` seconds (not counted: every client connected once, every
    server process running), then measure ``seconds`` of logins and the CPU time that
    each part of the server (processes and their descendants) spends meanwhile."""
    asyncio.run(_load(port, accounts, warm_up))
    before = {part: sum(map(tree_cpu, pids)) for part, pids in server_parts.items()}
    sample = asyncio.run(_load(port, accounts, seconds))
    for part, pids in server_parts.items():
        sample.cpu[part] = sum(map(tree_cpu, pids)) - before[part]
    return sample


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, including reaped children: the
    Dovecot master reaps one imap process per login, so its children's time counts."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        pending.extend(int(child) for child in children)
    return total / TICKS
