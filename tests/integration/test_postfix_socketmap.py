"""Mailward's socketmap tables, through a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from mailward.integrations.runtime import DataPlaneRuntime
from mailward.integrations.socketmap import DatabaseMailDirectory, SocketmapServer, netstring
from tests.support import World

Link = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def socketmap(world: World) -> AsyncIterator[Link]:
    server = await SocketmapServer(DatabaseMailDirectory(world.services.db)).start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()


async def ask(link: Link, request: str) -> str:
    reader, writer = link
    writer.write(netstring(request))
    length = await reader.readuntil(b":")
    payload = await reader.readexactly(int(length[:-1]) + 1)
    return payload[:-1].decode()


async def test_the_tables_answer_from_the_database_on_one_connection(socketmap: Link) -> None:
    assert await ask(socketmap, "domains example.test") == "OK yes"
    assert await ask(socketmap, "domains elsewhere.test") == "NOTFOUND "
    assert await ask(socketmap, "mailboxes INFO@example.test") == "OK example.test/info/"
    assert await ask(socketmap, "mailboxes nobody@example.test") == "NOTFOUND "
    assert await ask(socketmap, "mailboxes @example.test") == "NOTFOUND "
    assert await ask(socketmap, "senders info@example.test") == "OK info@example.test"
    assert await ask(socketmap, "senders not an address") == "NOTFOUND "
    assert await ask(socketmap, "aliases info@example.test") == "PERM unknown table"


async def test_a_malformed_request_closes_the_connection(socketmap: Link) -> None:
    reader, writer = socketmap
    writer.write(b"999999999:domains x,")
    assert await reader.read() == b""


async def test_the_dovecot_plane_runtime_serves_the_tables_on_the_configured_port(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """``data_plane = "dovecot"`` without ``dovecot_config``: the tables are served and
    the node warns that device changes will not end Dovecot sessions."""
    services = world.services
    services.settings = services.settings.model_copy(
        update={"data_plane": "dovecot", "socketmap_port": 0, "dovecot_config": None}
    )
    caplog.set_level(logging.WARNING, logger="mailward.integrations.runtime")
    async with DataPlaneRuntime(services) as runtime:
        reader, writer = await asyncio.open_connection("127.0.0.1", runtime.socketmap_port)
        try:
            assert await ask((reader, writer), "mailboxes info@example.test") != "NOTFOUND "
        finally:
            writer.close()
            await writer.wait_closed()
    assert "will not end live Dovecot sessions" in caplog.text
