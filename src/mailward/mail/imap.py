"""The IMAP listeners: one pymap connection per task, mounted on our own sockets."""

from __future__ import annotations

import asyncio
import logging
from asyncio import StreamReader, StreamWriter
from collections.abc import Mapping
from contextlib import AsyncExitStack, closing
from uuid import uuid4

from proxyprotocol.sock import SocketInfo
from pymap.context import connection_exit, subsystem
from pymap.imap import IMAPConnection
from pymap.imap.state import ConnectionState
from pymap.parsing.command.any import IdCommand
from pymap.parsing.response import CommandResponse, ResponseOk
from pymap.selected import SelectedMailbox

from mailward.mail.connections import ConnectionTracker, peer_ip
from mailward.mail.imap_backend import DeviceLogin, ImapClient, ImapConfig, current_client

log = logging.getLogger(__name__)

MAX_CLIENT_NAME = 200


def client_name_of(parameters: Mapping[bytes, bytes] | None) -> str | None:
    """The ``name`` (and ``version``) a client sent with IMAP ID, printable only."""
    if not parameters:
        return None
    fields = {k.lower(): v for k, v in parameters.items() if v is not None}
    name = fields.get(b"name")
    if not name:
        return None
    text = name.decode("utf-8", "replace")
    version = fields.get(b"version")
    if version:
        text += " " + version.decode("utf-8", "replace")
    text = "".join(c for c in text if c.isprintable())
    return text[:MAX_CLIENT_NAME] or None


class DeviceConnectionState(ConnectionState):
    """pymap's state machine with two changes: no plaintext login from localhost on
    the STARTTLS port, and the IMAP ID client name recorded for the device."""

    login: DeviceLogin

    async def do_greeting(self) -> CommandResponse:
        return ResponseOk(b"*", self.config.greeting, self.capability)

    async def do_id(self, cmd: IdCommand) -> tuple[CommandResponse, SelectedMailbox | None]:
        name = client_name_of(cmd.parameters)
        client = current_client.get()
        if name:
            client.client_name = name
            if client.device is not None:
                self.login.authenticator.note_client_name(client.device.device_id, name)
        return await super().do_id(cmd)


class ImapListener:
    """The ``asyncio.start_server`` callback for one IMAP port."""

    def __init__(self, login: DeviceLogin, config: ImapConfig, tracker: ConnectionTracker) -> None:
        self.login = login
        self.config = config
        self.tracker = tracker

    async def __call__(self, reader: StreamReader, writer: StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        with self.tracker.tracking(task):
            try:
                await self._serve(reader, writer, task)
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("IMAP connection failed")
            finally:
                writer.close()

    async def _serve(
        self, reader: StreamReader, writer: StreamWriter, task: asyncio.Task[None]
    ) -> None:
        subsystem.set(self.config.subsystem)

        def end_connection() -> None:
            task.cancel()

        current_client.set(ImapClient(peer_ip(writer), end_connection))
        sock_info = SocketInfo.get(writer, None, unique_id=uuid4().bytes)
        conn = IMAPConnection(self.config.commands, self.config, reader, writer, sock_info)
        state = DeviceConnectionState(self.login, self.config)
        async with AsyncExitStack() as stack:
            connection_exit.set(stack)
            stack.enter_context(closing(conn))
            await conn.run(state)
