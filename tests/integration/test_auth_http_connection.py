"""The auth endpoint's HTTP/1.1 connections, spoken to byte by byte: keep-alive,
answers in order, and a defined answer to garbage (status, then the connection closes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from mailward.auth import server as auth_server
from mailward.auth.http_connection import MAX_BODY, MAX_HEADERS
from mailward.auth.runtime import AuthRuntime
from mailward.auth.secret import auth_http_secret
from tests.integration.auth_devices import add_generated
from tests.support import World, free_port

Link = tuple[asyncio.StreamReader, asyncio.StreamWriter]
HEALTH = b"GET /auth/health HTTP/1.1\r\nHost: mailward\r\n\r\n"


@pytest.fixture
async def port(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    monkeypatch.setattr(auth_server, "IDLE_SECONDS", 1.0)
    async with AuthRuntime(world.services) as runtime:
        server = await runtime.serve_http("127.0.0.1", free_port())
        yield server.port


@pytest.fixture
async def link(port: int) -> AsyncIterator[Link]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    yield reader, writer
    writer.close()


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body."""
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), 5) == b""


def dovecot_request(world: World, password: str) -> bytes:
    secret = auth_http_secret(world.services.settings).encode()
    body = json.dumps(
        {"user": world.address, "password": password, "service": "imap", "remote_ip": "::1"}
    ).encode()
    head = (
        b"POST /auth/dovecot HTTP/1.1\r\nHost: mailward\r\nContent-Type: application/json\r\n"
        b"X-Mailward-Secret: " + secret + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    return head + body


async def test_one_connection_carries_many_logins(link: Link, world: World) -> None:
    reader, writer = link
    device, password = await add_generated(world, "Phone")
    for _ in range(3):
        writer.write(dovecot_request(world, password))
        status, headers, body = await answer(reader)
        assert (status, json.loads(body)["device_id"]) == (200, device)
        assert headers["cache-control"] == "no-store"
        assert "connection" not in headers


async def test_pipelined_requests_are_answered_in_order(link: Link, world: World) -> None:
    reader, writer = link
    _, password = await add_generated(world, "Phone")
    writer.write(dovecot_request(world, password) + HEALTH + b"GET /elsewhere HTTP/1.1\r\n\r\n")
    assert [(await answer(reader))[0] for _ in range(3)] == [200, 200, 404]


async def test_a_request_that_is_not_http_gets_400_and_the_connection_closes(
    link: Link,
) -> None:
    reader, writer = link
    writer.write(b"\x16\x03\x01 this is TLS, or garbage\r\n\r\n")
    assert (await answer(reader))[0] == 400
    assert await closed(reader)


async def test_a_body_over_the_limit_gets_413_and_the_connection_closes(link: Link) -> None:
    reader, writer = link
    size = MAX_BODY + 1
    writer.write(b"POST /auth/dovecot HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % size)
    writer.write(b"x" * size)
    assert (await answer(reader))[0] == 413
    assert await closed(reader)


async def test_too_many_headers_get_431(link: Link) -> None:
    reader, writer = link
    headers = b"".join(b"X-%d: y\r\n" % n for n in range(MAX_HEADERS + 1))
    writer.write(b"GET /auth/health HTTP/1.1\r\n" + headers + b"\r\n")
    assert (await answer(reader))[0] == 431
    assert await closed(reader)


async def test_connection_close_and_http_1_0_end_the_connection_after_the_answer(
    port: int,
) -> None:
    for request in (
        b"GET /auth/health HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /auth/health HTTP/1.0\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        status, headers, body = await answer(reader)
        assert (status, headers["connection"], body) == (200, "close", b"ok")
        assert await closed(reader)
        writer.close()


async def test_an_idle_connection_is_closed_and_a_busy_one_is_not(link: Link) -> None:
    reader, writer = link
    for _ in range(6):  # active for longer than the idle limit
        writer.write(HEALTH)
        assert (await answer(reader))[0] == 200
        await asyncio.sleep(0.25)
    assert await closed(reader)  # then idle: closed by the sweeper
