"""The outside world's mail server for tests: an aiosmtpd server standing where the
smarthost is configured, keeping what it is handed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP

from mailward.settings import Settings

H = TypeVar("H")


class Collector:
    """Every message the smarthost accepted: (sender, recipients, content)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        self.received.set()
        return "250 OK"


class Refuser:
    """A smarthost that refuses every recipient for good (550), as one does a mailbox
    that does not exist; counts what it refused."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.refused.append(address)
        return "550 5.1.1 no such mailbox here"


class Picky(Collector):
    """A smarthost that answers the recipients in ``answers`` with those answers, one per
    attempt (a 451 then nothing: refused for now, taken the next time), and takes the
    others; ``asked`` is every recipient it was given, in order."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.asked.append(address)
        waiting = self.answers.get(address)
        if waiting:
            return waiting.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def with_smarthost(settings: Settings, port: int) -> Settings:
    """The settings with the smarthost at 127.0.0.1:``port``, plain SMTP."""
    update = {"smarthost": "127.0.0.1", "smarthost_port": port, "smarthost_starttls": False}
    return settings.model_copy(update=update)


async def running_smarthost(port: int) -> AsyncIterator[Collector]:
    """A smarthost on ``port`` until the caller is done (the ``outside`` fixture)."""
    async for collector in running_handler(port, Collector()):
        yield collector


async def running_handler(port: int, handler: H) -> AsyncIterator[H]:
    """An aiosmtpd server with ``handler`` on ``port`` until the caller is done."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, loop=loop), "127.0.0.1", port)
    try:
        yield handler
    finally:
        server.close()
        await server.wait_closed()
