"""``mailward serve`` under systemd's Type=notify: READY=1 once the listeners accept
connections, WATCHDOG=1 pings when a watchdog is set, STOPPING=1 on SIGTERM."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serve_process import READY_TIMEOUT, serve_env


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A datagram socket like systemd's, at a short path (sun_path holds 108 bytes)."""
    directory = tempfile.mkdtemp(prefix="mw-notify-", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(directory, "notify"))
    sock.settimeout(READY_TIMEOUT)
    try:
        yield sock
    finally:
        sock.close()
        os.unlink(os.path.join(directory, "notify"))
        os.rmdir(directory)


def _messages(sock: socket.socket, until: bytes, limit: int = 50) -> list[bytes]:
    seen = []
    for _ in range(limit):
        seen.append(sock.recv(4096))
        if seen[-1] == until:
            return seen
    raise AssertionError(f"no {until!r} in {seen}")


def test_serve_tells_systemd_it_is_ready_pings_the_watchdog_and_says_it_stops(
    notify_socket: socket.socket, tmp_path: Path
) -> None:
    env = serve_env(tmp_path / "data")
    env.update(NOTIFY_SOCKET=notify_socket.getsockname(), WATCHDOG_USEC="400000")
    errors = (tmp_path / "serve.stderr").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mailward.serve"], env=env, stdout=subprocess.DEVNULL, stderr=errors
    )
    try:
        try:
            assert _messages(notify_socket, b"READY=1")[-1] == b"READY=1"
        except TimeoutError:
            pytest.fail("no READY=1: " + (tmp_path / "serve.stderr").read_text()[-3000:])
        for name in ("HTTP_PORT", "IMAPS_PORT", "SMTP_PORT", "AUTH_HTTP_PORT"):
            port = int(env[f"MAILWARD_{name}"])
            socket.create_connection(("127.0.0.1", port), timeout=5).close()  # accepting
        assert notify_socket.recv(4096) == b"WATCHDOG=1"
        process.terminate()
        assert _messages(notify_socket, b"STOPPING=1")[-1] == b"STOPPING=1"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.close()
