"""The IMAP listeners: one pymap connection per task, mounted on our own sockets, each
admitted by the connection caps and bounded before login (mail/imap_front.py)."""

from __future__ import annotations

import asyncio
import logging
from asyncio import StreamReader, StreamWriter
from collections.abc import Mapping
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from uuid import uuid4

from proxyprotocol.sock import SocketInfo
from pymap.context import connection_exit, subsystem
from pymap.imap.state import ConnectionState
from pymap.parsing.command import Command
from pymap.parsing.command.any import IdCommand
from pymap.parsing.response import CommandResponse, ResponseCode, ResponseNo, ResponseOk
from pymap.selected import SelectedMailbox

from mailward.mail.connections import ConnectionGate, ConnectionTracker, FrontLimits, peer_ip
from mailward.mail.imap_backend import DeviceLogin, ImapClient, ImapConfig, current_client
from mailward.mail.imap_front import BoundedInput, FrontIMAPConnection

log = logging.getLogger(__name__)

MAX_CLIENT_NAME = 200
TOO_MANY = b"* BYE [UNAVAILABLE] Too many connections from your network, try again later.\r\n"


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
    """pymap's state machine with three changes: no plaintext login from localhost on
    the STARTTLS port, the IMAP ID client name recorded for the device, and a storage
    failure (a full disk) answered ``NO [UNAVAILABLE]``, not ``BYE [SERVERBUG]``."""

    login: DeviceLogin

    async def do_command(self, cmd: Command) -> CommandResponse:
        try:
            return await super().do_command(cmd)
        except (ConnectionError, TimeoutError):
            raise
        except OSError as exc:
            log.warning("IMAP %s failed: %s", cmd.command.decode("ascii", "replace"), exc)
            return ResponseNo(
                cmd.tag,
                b"Temporary server failure, try again later.",
                ResponseCode.of(b"UNAVAILABLE"),
            )

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


@dataclass(eq=False)
class ImapListener:
    """The ``asyncio.start_server`` callback for one IMAP port."""

    login: DeviceLogin
    config: ImapConfig
    tracker: ConnectionTracker
    gate: ConnectionGate
    limits: FrontLimits

    async def __call__(self, reader: StreamReader, writer: StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        with self.gate.admitting(peer_ip(writer)) as admitted, self.tracker.tracking(task):
            if not admitted:
                writer.write(TOO_MANY)
                writer.close()
                return
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

        client = ImapClient(peer_ip(writer), end_connection)
        current_client.set(client)
        sock_info = SocketInfo.get(writer, None, unique_id=uuid4().bytes)
        bounded = BoundedInput(reader, writer, client, self.limits, self.config.max_append)
        commands = self.config.commands
        conn = FrontIMAPConnection(bounded, commands, self.config, bounded, writer, sock_info)
        state = DeviceConnectionState(self.login, self.config)
        async with AsyncExitStack() as stack:
            connection_exit.set(stack)
            stack.enter_context(closing(conn))
            await conn.run(state)
