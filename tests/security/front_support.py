"""Helpers for the mail-front tests (no tests here): the embedded mail server with
chosen limits, and a raw line client that can upgrade to TLS."""

from __future__ import annotations

import asyncio
import contextlib

from tests.integration.mail_world import (
    client_tls,
    running_mail,
)

PATIENCE = 10.0


# The embedded mail server on free ports, with settings ``limits`` changed.
front_mail = running_mail


class Raw:
    """A line client on asyncio streams: sends bytes as they are, reads lines with a
    deadline, tells a clean close from a hang."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, tls: bool = False) -> Raw:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_tls() if tls else None
        )
        return cls(reader, writer)

    @classmethod
    async def greeted(cls, port: int, tls: bool = False) -> Raw:
        """A connection whose greeting line was read."""
        client = await cls.connect(port, tls)
        await client.line()
        return client

    async def line(self, patience: float = PATIENCE) -> bytes:
        """The next line; b"" when the server closed the connection."""
        return await asyncio.wait_for(self.reader.readline(), patience)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def until(self, prefix: bytes, patience: float = PATIENCE) -> list[bytes]:
        """Lines up to and including the first starting with ``prefix``."""
        lines: list[bytes] = []
        async with asyncio.timeout(patience):
            while True:
                line = await self.reader.readline()
                if not line:
                    raise EOFError(b"closed after " + b"".join(lines))
                lines.append(line)
                if line.startswith(prefix):
                    return lines

    async def rest(self, patience: float = PATIENCE) -> bytes:
        """Everything until the server closes (fails on a hang)."""
        chunks: list[bytes] = []
        async with asyncio.timeout(patience):
            while chunk := await self.reader.read(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    async def start_tls(self) -> None:
        await self.writer.start_tls(client_tls())

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def submission_auth_answer(port: int, plain: bytes) -> bytes:
    """The answer of the submissions port (implicit TLS) to ``AUTH PLAIN plain`` after
    EHLO; the connection closed."""
    smtp = await Raw.connect(port, tls=True)
    try:
        await smtp.until(b"220 ")
        await smtp.send(b"EHLO client.test\r\n")
        await smtp.until(b"250 ")
        await smtp.send(b"AUTH PLAIN " + plain + b"\r\n")
        return await smtp.line()
    finally:
        await smtp.close()


async def rest_or_reset(client: Raw, patience: float = PATIENCE) -> bytes:
    """What the server said before closing; a reset (it closed with our bytes unread)
    counts as closed too."""
    try:
        return await client.rest(patience)
    except ConnectionResetError:
        return b""
