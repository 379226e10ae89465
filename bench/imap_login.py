"""IMAP login throughput and revoke-to-BYE latency against the embedded server.

Starts ``mailward serve`` as its own process on free ports with a fresh data directory,
then 16 concurrent clients each loop connect + TLS (implicit, port "imaps") + LOGIN +
LOGOUT for a bounded time; then devices idling in IMAP IDLE are revoked from this
(other) process and the time until each gets ``* BYE`` is measured.

    python bench/imap_login.py            # 30 s of logins, 10 revocations
    python bench/imap_login.py --quick    # 8 s of logins, 5 revocations (< 60 s in all)

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mailward.bootstrap import Services, build_services
from mailward.core.access.actors import Actor
from mailward.settings import Settings

ADDRESS = "bench@bench.test"
CLIENTS = 16
POLL_SECONDS = 0.25
MAX_LOGINS = 200_000  # a bound on top of the time bound


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


CLIENT_TLS = make_client_tls()  # made once: creating a default context costs ~50 ms


async def prepare(data_dir: Path) -> tuple[Services, str]:
    settings = Settings(data_dir=data_dir)
    services = await build_services(settings)
    op = Actor.operator()
    legal = await services.accounts.create(op, "legal@bench.test", "bench password 1234 !", "L")
    org = await services.organizations.create(op, "Bench", legal_representative=legal.email)
    await services.mail_services.create(op, org.id, "bench.test")
    await services.addresses.create_by_email(op, ADDRESS)
    device = await services.devices.add(op, ADDRESS, "bench client")
    return services, device.password


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ, MAILWARD_DATA_DIR=str(data_dir))
    env["MAILWARD_DEVICE_CHANGE_POLL_SECONDS"] = str(POLL_SECONDS)
    ports = {n: free_port() for n in ("HTTP", "IMAP", "IMAPS", "SUBMISSION", "SUBMISSIONS")}
    ports.update(SMTP=free_port(), AUTH_HTTP=free_port())
    env.update({f"MAILWARD_{name}_PORT": str(port) for name, port in ports.items()})
    process = subprocess.Popen(
        [sys.executable, "-m", "mailward.serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "ready" not in line:
        process.kill()
        raise SystemExit(f"mailward serve did not start: {line!r}")
    return process, ports["IMAPS"]


class Imap:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Imap:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=CLIENT_TLS)
        await reader.readline()
        return cls(reader, writer)

    async def command(self, tag: bytes, text: bytes) -> bytes:
        self.writer.write(tag + b" " + text + b"\r\n")
        while True:
            line = await self.reader.readline()
            if not line or line.startswith(tag + b" "):
                return line

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


@dataclass
class LoginStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


async def one_login(port: int, login: bytes) -> bool:
    imap = await Imap.open(port)
    try:
        ok = (await imap.command(b"a", login)).startswith(b"a OK")
        await imap.command(b"b", b"LOGOUT")
        return ok
    finally:
        await imap.close()


async def login_loop(port: int, login: bytes, deadline: float, stats: LoginStats) -> None:
    while time.monotonic() < deadline and len(stats.latencies) < MAX_LOGINS:
        started = time.perf_counter()
        try:
            ok = await one_login(port, login)
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            ok = False
        if ok:
            stats.latencies.append(time.perf_counter() - started)
        else:
            stats.errors += 1


async def measure_logins(port: int, password: str, seconds: float) -> dict[str, float]:
    login = f'LOGIN "{ADDRESS}" "{password}"'.encode()
    stats = LoginStats()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(login_loop(port, login, deadline, stats) for _ in range(CLIENTS)))
    elapsed = time.monotonic() - started
    ordered = sorted(stats.latencies) or [float("nan")]
    return {
        "logins": len(stats.latencies),
        "errors": stats.errors,
        "logins_per_s": round(len(stats.latencies) / elapsed, 1),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
    }


async def one_revocation(services: Services, port: int, name: str) -> float:
    op = Actor.operator()
    device = await services.devices.add(op, ADDRESS, name)
    imap = await Imap.open(port)
    try:
        login = f'LOGIN "{ADDRESS}" "{device.password}"'.encode()
        assert (await imap.command(b"a", login)).startswith(b"a OK")
        await imap.command(b"s", b"SELECT INBOX")
        imap.writer.write(b"i IDLE\r\n")
        await imap.reader.readline()  # "+ Idling."
        started = time.perf_counter()
        await services.devices.revoke(op, ADDRESS, device.device.id)
        async with asyncio.timeout(10):
            while b"BYE" not in (await imap.reader.readline() or b"BYE"):
                pass
        return time.perf_counter() - started
    finally:
        await imap.close()


async def bench(seconds: float, revocations: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="mailward-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        services, password = await prepare(data_dir)
        process, port = start_server(data_dir)
        try:
            result = await measure_logins(port, password, seconds)
            samples = [
                await one_revocation(services, port, f"revoke {i}") for i in range(revocations)
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            await services.close()
    result["revoke_to_bye_ms"] = round(statistics.median(samples) * 1000, 1)
    result["revoke_to_bye_max_ms"] = round(max(samples) * 1000, 1)
    result.update(clients=CLIENTS, seconds=seconds, change_poll_s=POLL_SECONDS)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="finish within 60 seconds")
    args = parser.parse_args()
    seconds, revocations = (8.0, 5) if args.quick else (30.0, 10)
    result = asyncio.run(bench(seconds, revocations))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
