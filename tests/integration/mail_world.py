"""Shared helpers for the mail-server tests (no tests here): a running in-process mail
server with two addresses and their devices, and small protocol clients."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import poplib
import smtplib
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import (
    AuthResult,
)
from mailward.auth.runtime import close_authenticator
from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.mail.server import MailPorts, MailServer
from tests.support import World

OTHER = "bob@example.test"


class RecordingAuthenticator:
    """The real authenticator, remembering the client names it was told about."""

    def __init__(self, inner: Authenticator) -> None:
        self.inner = inner
        self.client_names: dict[int, str] = {}

    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        return await self.inner.authenticate(address, password, protocol, client_ip, client_name)

    def note_client_name(self, device_id: int, client_name: str) -> None:
        self.client_names[device_id] = client_name
        self.inner.note_client_name(device_id, client_name)


@dataclass
class MailWorld:
    world: World
    server: MailServer
    ports: MailPorts
    authenticator: RecordingAuthenticator
    passwords: dict[str, str] = field(default_factory=dict)
    device_ids: dict[str, int] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.world.services

    async def add_device(self, address: str, name: str) -> str:
        created = await self.services.devices.add(self.world.admin, address, name)
        self.passwords[name] = created.password
        self.device_ids[name] = created.device.id
        return created.password


async def populate(world: World) -> None:
    await world.services.addresses.create_by_email(Actor.operator(), OTHER)


MAIL_PORTS = ("imap", "imaps", "submission", "submissions", "smtp", "pop3", "pop3s")


@asynccontextmanager
async def running_mail(
    world: World, devices: Sequence[str] = (), **limits: Any
) -> AsyncIterator[MailWorld]:
    """The embedded mail server on free ports, with settings ``limits`` changed, once
    the world has bob's address too; ``devices`` are added to the world's address."""
    await populate(world)
    services = world.services
    update: dict[str, Any] = {f"{name}_port": 0 for name in MAIL_PORTS}
    settings = services.settings.model_copy(update=update | limits)
    auth = RecordingAuthenticator(services.build_authenticator())
    server = MailServer(settings, services, auth)
    ports = await server.start()
    try:
        mail = MailWorld(world, server, ports, auth)
        for name in devices:
            await mail.add_device(world.address, name)
        yield mail
    finally:
        await server.stop(grace=2.0)
        await close_authenticator(auth.inner)


@functools.cache
def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


Client = TypeVar("Client", imaplib.IMAP4, poplib.POP3, smtplib.SMTP)


def starttls(client: Client) -> Client:
    """``client``, connected in the clear, after its STARTTLS (POP3's STLS)."""
    if isinstance(client, poplib.POP3):
        client.stls(client_tls())
    elif isinstance(client, smtplib.SMTP):
        client.starttls(context=client_tls())
    else:
        client.starttls(client_tls())
    return client


def imaps(port: int) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=10)


def imap_starttls(port: int) -> imaplib.IMAP4:
    return starttls(imaplib.IMAP4("127.0.0.1", port, timeout=10))


def pop3s(port: int) -> poplib.POP3_SSL:
    return poplib.POP3_SSL("127.0.0.1", port, context=client_tls(), timeout=10)


def pop3_stls(port: int) -> poplib.POP3:
    return starttls(poplib.POP3("127.0.0.1", port, timeout=10))


def submission(port: int) -> smtplib.SMTP:
    return starttls(smtplib.SMTP("127.0.0.1", port, timeout=10))


def smtps(port: int) -> smtplib.SMTP_SSL:
    return smtplib.SMTP_SSL("127.0.0.1", port, context=client_tls(), timeout=10)


def message(sender: str, to: str, subject: str, body: str = "Hello.") -> bytes:
    return (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\n{body}\r\n").encode()


async def in_thread(func: object, *args: object) -> object:
    return await asyncio.to_thread(func, *args)  # type: ignore[arg-type]


class RawImap:
    """A tiny IMAP client on asyncio streams, enough for LOGIN, SELECT and IDLE."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen: list[bytes] = []
        self._tag = 0

    @classmethod
    async def connect(cls, port: int) -> RawImap:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_tls())
        client = cls(reader, writer)
        await client.line()
        return client

    async def line(self, patience: float = 10.0) -> bytes:
        data = await asyncio.wait_for(self.reader.readline(), patience)
        if not data:
            raise EOFError("connection closed")
        self.seen.append(data)
        return data

    async def command(self, text: str) -> list[bytes]:
        self._tag += 1
        tag = f"t{self._tag}".encode()
        self.writer.write(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = await self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    async def login(self, user: str, password: str) -> bytes:
        return (await self.command(f'LOGIN "{user}" "{password}"'))[-1]

    async def idle(self) -> None:
        await self.command("SELECT INBOX")
        self.writer.write(b"i IDLE\r\n")
        while not (await self.line()).startswith(b"+"):
            pass

    async def wait_for(self, needle: bytes, patience: float = 10.0) -> bytes:
        async with asyncio.timeout(patience):
            while True:
                line = await self.line(patience)
                if needle in line:
                    return line

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
