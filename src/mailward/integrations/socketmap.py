"""Postfix's lookup tables answered live by Mailward (the socketmap protocol).

Postfix asks ``socketmap:inet:HOST:PORT:NAME`` with netstrings ``NAME KEY`` and reads
``OK value`` / ``NOTFOUND `` / ``TEMP reason``. Three tables:

- ``domains``: is this a Mail Service's domain? (``virtual_mailbox_domains``)
- ``mailboxes``: is ``local@domain`` an address? (``virtual_mailbox_maps``)
- ``senders``: which SASL login may send as this address? (``smtpd_sender_login_maps``)

Answers come from the database on every lookup, so a new address receives mail and a
deleted one stops at once, on every node, with no map file to rebuild. A database outage
answers ``TEMP``: Postfix defers (4xx), it never bounces good mail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy import select

from mailward.core.addresses.service import find_local_address
from mailward.core.mailservices.service import VERIFIED_ONLY
from mailward.core.names import normalize_domain, normalize_email
from mailward.db.engine import Database
from mailward.db.models import MailService
from mailward.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_REQUEST = 100_000
IDLE_SECONDS = 600.0  # Postfix closes its idle lookup connections long before this


class MailDirectory(Protocol):
    async def address(self, email: str) -> str | None:
        """The canonical ``local@domain`` of a local address, or ``None``."""
        ...

    async def is_local_domain(self, domain: str) -> bool: ...


class DatabaseMailDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def address(self, email: str) -> str | None:
        try:
            email = normalize_email(email)
        except InvalidInput:
            return None
        async with self.db.unit_of_work() as uow:
            found = await find_local_address(uow.session, email)
        if found is None:
            return None
        address, mail_service = found
        return address.email_at(mail_service)

    async def is_local_domain(self, domain: str) -> bool:
        try:
            domain = normalize_domain(domain)
        except InvalidInput:
            return False
        async with self.db.unit_of_work() as uow:
            found = await uow.session.scalar(
                select(MailService.id).where(MailService.domain == domain, VERIFIED_ONLY)
            )
        return found is not None


Table = Callable[[MailDirectory, str], Awaitable[str | None]]


async def _domains(directory: MailDirectory, key: str) -> str | None:
    return "yes" if "@" not in key and await directory.is_local_domain(key) else None


async def _mailboxes(directory: MailDirectory, key: str) -> str | None:
    if key.startswith("@") or "@" not in key:
        return None
    address = await directory.address(key)
    return f"{address.split('@')[1]}/{address.split('@')[0]}/" if address else None


async def _senders(directory: MailDirectory, key: str) -> str | None:
    if key.startswith("@") or "@" not in key:
        return None
    return await directory.address(key)


TABLES: dict[str, Table] = {"domains": _domains, "mailboxes": _mailboxes, "senders": _senders}


def netstring(text: str) -> bytes:
    data = text.encode()
    return str(len(data)).encode() + b":" + data + b","


async def read_length(reader: asyncio.StreamReader) -> int | None:
    """A netstring's length prefix, digit by digit (a garbage prefix is refused at its
    first wrong byte, not after waiting for a colon); ``None`` at the end of the stream."""
    digits = b""
    while True:
        try:
            async with asyncio.timeout(IDLE_SECONDS):  # not wait_for: it can swallow a cancel
                byte = await reader.readexactly(1)
        except (asyncio.IncompleteReadError, TimeoutError):
            return None
        if byte == b":" and digits:
            return int(digits)
        if not (byte.isdigit() and len(digits) < 6):
            raise ValueError("bad netstring length")
        digits += byte


async def read_netstring(reader: asyncio.StreamReader) -> bytes | None:
    """One netstring's payload; ``None`` at the end of the stream."""
    length = await read_length(reader)
    if length is None:
        return None
    if length > MAX_REQUEST:
        raise ValueError("netstring too long")
    async with asyncio.timeout(IDLE_SECONDS):
        payload = await reader.readexactly(length + 1)
    if payload[-1:] != b",":
        raise ValueError("netstring without its comma")
    return payload[:-1]


async def answer(directory: MailDirectory, request: bytes) -> str:
    name, _, key = request.decode("utf-8", "replace").partition(" ")
    table = TABLES.get(name)
    if table is None:
        return "PERM unknown table"
    try:
        value = await table(directory, key.strip())
    except Exception as exc:
        log.warning("socketmap %s lookup failed: %s", name, exc.__class__.__name__)
        return "TEMP lookup failed"
    return f"OK {value}" if value is not None else "NOTFOUND "


class SocketmapServer:
    """Serves the tables to Postfix; one task per Postfix connection, at most
    ``max_connections`` at once (more are closed at once; Postfix retries)."""

    def __init__(self, directory: MailDirectory, max_connections: int = 1000) -> None:
        self.directory = directory
        self.max_connections = max_connections
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= self.max_connections:
            writer.close()
            return
        self.open += 1
        try:
            await self._serve(reader, writer)
        finally:
            self.open -= 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_netstring(reader)) is not None:
                writer.write(netstring(await answer(self.directory, request)))
                await writer.drain()
        except (ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass  # garbage: close
        except (ConnectionError, TimeoutError):
            pass  # the client is gone or silent
        finally:
            writer.close()

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port)
