"""Protocol fuzzing of the IMAP, POP3 and SMTP front ends: Hypothesis-made command
streams against the real servers on loopback. Every stream gets a bounded reply or a
clean close within a timeout, never a traceback in the logs or SERVERBUG."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.front_support import Raw, front_mail
from tests.support import World

MAX_REPLY = 64 * 1024
VERBS = {
    "imap": [
        b"a LOGIN",
        b"a AUTHENTICATE PLAIN",
        b"a CAPABILITY",
        b"a NOOP",
        b"a SELECT",
        b"a APPEND INBOX",
        b"a ID (",
        b"a STARTTLS",
        b"a LOGOUT",
        b"* ",
        b"a FETCH 1:*",
    ],
    "pop3": [
        b"USER",
        b"PASS",
        b"AUTH PLAIN",
        b"CAPA",
        b"STLS",
        b"LIST",
        b"RETR",
        b"TOP",
        b"NOOP",
        b"QUIT",
    ],
    "smtp": [
        b"EHLO",
        b"HELO",
        b"AUTH PLAIN",
        b"AUTH LOGIN",
        b"MAIL FROM:",
        b"RCPT TO:",
        b"DATA",
        b"BDAT",
        b"STARTTLS",
        b"RSET",
        b"VRFY",
        b"QUIT",
    ],
}
ARGUMENTS = st.one_of(
    st.binary(max_size=80),
    st.sampled_from(
        [
            b"{5}",
            b"{5+}",
            b"{99999999+}",
            b"{-1}",
            b'"\xff\xfe"',
            b"()",
            b"=?",
            b"AAA=",
            b"\x00",
            b"<>",
            b"<a@b>",
            b"((((((((((",
        ]
    ),
)


def stream_of(protocol: str) -> st.SearchStrategy[bytes]:
    line = st.tuples(st.sampled_from(VERBS[protocol]), st.lists(ARGUMENTS, max_size=3)).map(
        lambda parts: parts[0] + b" " + b" ".join(parts[1]) + b"\r\n"
    )
    return st.lists(line, min_size=1, max_size=6).map(b"".join)


async def exchange(port: int, data: bytes, tls: bool) -> bytes:
    """Send ``data``, then read what comes back until quiet or closed (bounded)."""
    client = await Raw.connect(port, tls)
    received = b""
    try:
        await client.send(data)
        while len(received) <= MAX_REPLY:
            try:
                chunk = await asyncio.wait_for(client.reader.read(65536), 0.2)
            except TimeoutError:
                break  # quiet: waiting for more input, as it may
            if not chunk:
                break
            received += chunk
    except ConnectionError:
        pass
    finally:
        await client.close()
    return received


def check_fuzz(protocol: str, port: int, tls: bool) -> Callable[[], None]:
    """A Hypothesis test (run it in a thread) talking to the server on this loop."""
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(stream=stream_of(protocol))
    def one(stream: bytes) -> None:
        future = asyncio.run_coroutine_threadsafe(exchange(port, stream, tls), loop)
        reply = future.result(timeout=15)
        assert len(reply) <= MAX_REPLY + 65536
        assert b"SERVERBUG" not in reply and b"Traceback" not in reply

    return cast(Callable[[], None], one)


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
async def test_fuzzed_command_streams_get_bounded_replies_and_no_tracebacks(
    world: World, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with front_mail(world) as mail:
        port = {"imap": mail.ports.imaps, "pop3": mail.ports.pop3s, "smtp": mail.ports.submissions}[
            protocol
        ]
        fuzz = check_fuzz(protocol, port, True)
        await asyncio.to_thread(fuzz)
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
