"""The auth endpoint answers "100 Continue" to a client that waits for it before
sending the body, as Dovecot's HTTP client does on the first request of each new
connection (before: Dovecot waited 2 s, so a login after a quiet minute took 2 s
longer). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

from tests.integration.auth_devices import add_generated
from tests.integration.test_auth_http_connection import (  # noqa: F401
    answer,
    dovecot_request,
    port,
)
from tests.support import World


async def test_a_client_waiting_for_100_continue_gets_it_then_its_answer(
    port: int,  # noqa: F811 (the fixture)
    world: World,
) -> None:
    device, password = await add_generated(world, "Phone")
    head, _, body = dovecot_request(world, password).partition(b"\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\nExpect: 100-continue\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        status, _, answered = await answer(reader)
        assert (status, json.loads(answered)["device_id"]) == (200, device)
        # With the body sent along, no interim answer: the final one comes first.
        writer.write(head + b"\r\nExpect: 100-continue\r\n\r\n" + body)
        status, _, answered = await answer(reader)
        assert (status, json.loads(answered)["device_id"]) == (200, device)
    finally:
        writer.close()
