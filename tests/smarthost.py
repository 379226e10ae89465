"""The outside world's mail server for tests: an aiosmtpd server standing where the
smarthost is configured, keeping what it is handed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from aiosmtpd.smtp import SMTP

from mailward.settings import Settings


class Collector:
    """Every message the smarthost accepted: (sender, recipients, content)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.received = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        self.received.set()
        return "250 OK"


def with_smarthost(settings: Settings, port: int) -> Settings:
    """The settings with the smarthost at 127.0.0.1:``port``, plain SMTP."""
    update = {"smarthost": "127.0.0.1", "smarthost_port": port, "smarthost_starttls": False}
    return settings.model_copy(update=update)


async def running_smarthost(port: int) -> AsyncIterator[Collector]:
    """A smarthost on ``port`` until the caller is done (the ``outside`` fixture)."""
    collector = Collector()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(collector, loop=loop), "127.0.0.1", port)
    try:
        yield collector
    finally:
        server.close()
        await server.wait_closed()
