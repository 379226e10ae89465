"""Memory a stranger can make ``mailward serve`` hold before login.

    python bench/abuse_literal.py [--quick]

Starts ``mailward serve`` as a real deployment would (a subprocess on free ports, a
temporary data directory, SQLite), then opens 50 IMAP connections that each announce a
2 GB non-synchronizing literal in LOGIN (``a LOGIN {2000000000+}``) and push data after
it. Prints the growth of the server's resident memory (peak during the attack minus
before it); the target is at most 30 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONNECTIONS = 50
LITERAL = b"a LOGIN {2000000000+}\r\n"
CHUNK = b"x" * (1024 * 1024)
PORTS = ("http", "imap", "imaps", "submission", "submissions", "smtp", "pop3", "pop3s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def push_literal(port: int, megabytes: int) -> int:
    """One attacker: announce the literal, push up to ``megabytes``; MiB accepted."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        await asyncio.wait_for(reader.readline(), 10)
        writer.write(LITERAL)
        for _ in range(megabytes):
            writer.write(CHUNK)
            await asyncio.wait_for(writer.drain(), 10)
            sent += 1
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return sent


async def literal_attack(pid: int, port: int, connections: int, megabytes: int) -> float:
    """RSS growth (MiB) of ``pid`` while ``connections`` attackers push literals."""
    before = rss_mb(pid)
    peak = before
    attack = asyncio.gather(*(push_literal(port, megabytes) for _ in range(connections)))
    while not attack.done():
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.05)
    await attack
    await asyncio.sleep(0.5)
    return max(peak, rss_mb(pid)) - before


def serve_environment(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MAILWARD_DATA_DIR=str(data_dir),
        MAILWARD_BIND="127.0.0.1",
        MAILWARD_AUTH_HTTP_PORT=str(free_port()),
        MAILWARD_MAIL_MAX_CONNECTIONS_PER_NETWORK="500",
    )
    env.update({f"MAILWARD_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    return env


def start_serve(
    data_dir: Path, ports: dict[str, int], prefix: tuple[str, ...] = (), **env: str
) -> subprocess.Popen[str]:
    """``mailward serve`` ready on ``ports`` (``prefix``: e.g. a ``prlimit`` command)."""
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "mailward.serve"],
        env=serve_environment(data_dir, ports) | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                if "ready" in line:
                    ready.set()

    thread = threading.Thread(target=pump, daemon=True, name=f"serve-{process.pid}")
    thread.start()
    if not ready.wait(60):
        process.kill()
        raise RuntimeError("mailward serve did not start")
    return process


def stop_serve(process: subprocess.Popen[str]) -> None:
    """Stop it; its output pump closes the pipe at the end of the output."""
    process.terminate()
    process.wait(30)
    for thread in threading.enumerate():
        if thread.name == f"serve-{process.pid}":
            thread.join(10)


async def measure(quick: bool) -> dict[str, float]:
    megabytes = 8 if quick else 40
    with tempfile.TemporaryDirectory(prefix="mailward-abuse-literal-") as tmp:
        ports = {name: free_port() for name in PORTS}
        process = start_serve(Path(tmp) / "data", ports)
        try:
            await asyncio.sleep(1.0)  # let start-up allocations settle
            started = time.monotonic()
            growth = await literal_attack(process.pid, ports["imap"], CONNECTIONS, megabytes)
            seconds = time.monotonic() - started
        finally:
            stop_serve(process)
    print(
        f"abuse_literal: {CONNECTIONS} connections x {{2000000000+}} literal, up to "
        f"{megabytes} MiB each: RSS +{growth:.1f} MB in {seconds:.1f} s (target <= 30 MB)"
    )
    return {"literal_rss_growth_mb": growth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(measure(parser.parse_args().quick))


if __name__ == "__main__":
    main()
