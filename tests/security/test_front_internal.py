"""File-descriptor exhaustion, and garbage on the internal listeners (the auth endpoint
and the socketmap): bounded, a clean close, and the server keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

import pytest
from bench.abuse_literal import PORTS, free_port, start_serve, stop_serve

from mailward.integrations.socketmap import SocketmapServer
from tests.security.front_support import Raw, rest_or_reset
from tests.support import skip_or_fail

GARBAGE = [b"\x00" * 70000, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5000, b"\xff\xfe\r\n\r\n"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_many(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            writers.append((await asyncio.open_connection("127.0.0.1", port))[1])
    return writers


@pytest.mark.slow
async def test_running_out_of_file_descriptors_neither_crashes_nor_spins(tmp_path: Path) -> None:
    if shutil.which("prlimit") is None:
        skip_or_fail("prlimit (util-linux) is missing")
    ports = {name: free_port() for name in (*PORTS, "auth_http")}
    process = start_serve(
        tmp_path / "data",
        ports,
        ("prlimit", "--nofile=160"),
        MAILWARD_MAIL_MAX_CONNECTIONS_PER_NETWORK="5000",
    )
    try:
        writers = await open_many(ports["imap"], 200)  # more than 160 fds, within the backlog
        before = cpu_seconds(process.pid)
        await asyncio.sleep(2.0)
        busy = cpu_seconds(process.pid) - before
        for writer in writers:
            writer.close()
        assert process.poll() is None
        assert busy < 1.5, f"{busy:.2f} s of CPU in 2 s while out of descriptors"
        # asyncio accepts again a second after EMFILE: this client waits in the backlog
        # for its greeting (Raw.line allows 10 s) instead of the test sleeping first.
        client = await Raw.connect(ports["imap"])
        assert (await client.line()).startswith(b"* OK")
        await client.send(b"a CAPABILITY\r\n")
        assert (await client.until(b"a "))[-1].startswith(b"a OK")
        await client.close()
        for garbage in GARBAGE:
            auth = await Raw.connect(ports["auth_http"])
            await auth.send(garbage)
            said = await rest_or_reset(auth)
            assert said == b"" or said.startswith(b"HTTP/1.1 4")
            await auth.close()
    finally:
        stop_serve(process)


class NoDirectory:
    async def address(self, email: str) -> str | None:
        return None

    async def is_local_domain(self, domain: str) -> bool:
        return False


async def test_garbage_on_the_socketmap_is_closed_cleanly() -> None:
    server = await SocketmapServer(NoDirectory(), max_connections=3).start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for garbage in (b"x" * 70000, b"99999999999:", b"\xd9\xa3:", b"3:abc;", *GARBAGE):
            client = await Raw.connect(port)
            await client.send(garbage)
            assert await rest_or_reset(client) == b""
            await client.close()
        client = await Raw.connect(port)
        await client.send(b"16:domains example.,")
        assert await client.reader.readexactly(12) == b"9:NOTFOUND ,"
        await client.close()
    finally:
        server.close()
        await server.wait_closed()
