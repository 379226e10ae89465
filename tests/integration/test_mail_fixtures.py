"""Shared helpers for the mail-server tests (no tests here): a running in-process mail
server with two addresses and their devices, and small protocol clients."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import smtplib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import select

from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthFailure,
    AuthResult,
    FailureReason,
)
from mailward.bootstrap import Services
from mailward.core.actors import Actor
from mailward.core.addresses import find_local_address
from mailward.core.passwords import lookup_hash
from mailward.db.models import Device
from mailward.errors import InvalidInput
from mailward.mail.server import MailPorts, MailServer
from tests.support import World

OTHER = "bob@example.test"


class DatabaseAuthenticator:
    """Test stand-in for the real authenticator: generated passwords only, checked
    with one keyed-hash lookup against the database."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.client_names: dict[int, str] = {}

    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        failure = AuthFailure(FailureReason.WRONG_CREDENTIALS)
        try:
            async with self.services.db.unit_of_work() as uow:
                found = await find_local_address(uow.session, address)
                if found is None:
                    return failure
                addr, mail_service = found
                digest = lookup_hash(self.services.keys, addr.id, password)
                device = await uow.session.scalar(
                    select(Device).where(
                        Device.password_lookup == digest, Device.revoked_at.is_(None)
                    )
                )
        except InvalidInput:
            return failure
        if device is None or device.address_id != addr.id:
            return failure
        email = f"{addr.local_part}@{mail_service.domain}"
        return AuthenticatedDevice(device.id, addr.id, email, device.name)

    def note_client_name(self, device_id: int, client_name: str) -> None:
        self.client_names[device_id] = client_name


@dataclass
class MailWorld:
    world: World
    server: MailServer
    ports: MailPorts
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


@asynccontextmanager
async def running_mail(world: World, authenticator: object = None) -> AsyncIterator[MailWorld]:
    services = world.services
    settings = services.settings.model_copy(
        update={
            "imap_port": 0,
            "imaps_port": 0,
            "submission_port": 0,
            "submissions_port": 0,
            "smtp_port": 0,
        }
    )
    auth = authenticator or DatabaseAuthenticator(services)
    server = MailServer(settings, services, auth)  # type: ignore[arg-type]
    ports = await server.start()
    try:
        yield MailWorld(world, server, ports)
    finally:
        await server.stop(grace=2.0)


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def imaps(port: int) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_tls(), timeout=10)


def imap_starttls(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    client.starttls(client_tls())
    return client


def submission(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=10)
    client.starttls(context=client_tls())
    return client


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
