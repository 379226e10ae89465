"""pymap's IMAP connection, bounded before login.

pymap reads a LITERAL+ (``{N+}``) in full before parsing it and never times a client
out, so a stranger could make the process hold gigabytes or a socket forever. Here the
connection reads through :class:`BoundedInput`, which refuses a literal over the limit
before reading it (RFC 7888 LITERAL-: tagged ``BAD [TOOBIG]``, then close), bounds the
bytes of one command, counts commands before login and logs out idle clients. Nothing
read before STARTTLS survives the handshake, and no client ever sees ``SERVERBUG``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import NoReturn, TypeVar

from pymap.imap import IMAPConnection
from pymap.imap.state import ConnectionState
from pymap.parsing import Params
from pymap.parsing.command import Command
from pymap.parsing.response import ResponseBye, ResponseCode
from pysasl.creds.server import ServerCredentials
from pysasl.exception import AuthenticationError

from mailward.mail.connections import FrontLimits, drop_unencrypted_input
from mailward.mail.imap_backend import ImapClient

log = logging.getLogger(__name__)

_TAG = re.compile(rb"[!#$&'+,\-./0-9:;<=>?@A-Z\[\]^_`a-z|}~]{1,64}")
T = TypeVar("T")
AFTER_LOGIN_MESSAGES = 4  # a logged-in command may carry a few messages (MULTIAPPEND)


class ClientDismissed(EOFError):
    """The connection was ended here after telling the client why; pymap ends it
    quietly (it treats EOFError as the client going away)."""


@dataclass(eq=False)
class BoundedInput:
    """The reader pymap sees: ``readline`` and ``readexactly`` with limits that depend
    on whether the client has logged in."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    client: ImapClient
    limits: FrontLimits
    max_message: int
    tag: bytes = field(default=b"*", init=False)
    command_bytes: int = field(default=0, init=False)
    commands_before_login: int = field(default=0, init=False)
    _command_starts: bool = field(default=False, init=False)

    @property
    def logged_in(self) -> bool:
        return self.client.device is not None

    def command_starts(self) -> None:
        self._command_starts = True
        self.command_bytes = 0
        if not self.logged_in:
            self.commands_before_login += 1

    async def readline(self) -> bytes:
        try:
            line = await self._timed(self.reader.readline())
        except ValueError:  # longer than the StreamReader's limit
            await self.dismiss(b"* BYE [TOOBIG] Line too long.\r\n")
        if self._command_starts:
            self._command_starts = False
            self.tag = self._tag_of(line)
            if self.commands_before_login > self.limits.commands_before_login:
                await self.dismiss(b"* BYE Too many commands without logging in.\r\n")
        if not self.logged_in and len(line) > self.limits.line_bytes:
            await self.dismiss(b"* BYE [TOOBIG] Line too long before login.\r\n")
        await self._count(len(line))
        return line

    async def readexactly(self, size: int) -> bytes:
        limit = self.limits.literal_before_login if not self.logged_in else self.max_message
        if size > limit:
            await self.dismiss(self.tag + b" BAD [TOOBIG] Literal too large.\r\n")
        await self._count(size)
        return await self._timed(self.reader.readexactly(size))

    async def _count(self, size: int) -> None:
        self.command_bytes += size
        if self.command_bytes > self._command_budget:
            await self.dismiss(self.tag + b" BAD [TOOBIG] Command too large.\r\n")

    @property
    def _command_budget(self) -> int:
        if self.logged_in:
            return AFTER_LOGIN_MESSAGES * self.max_message
        return self.limits.line_bytes + 2 * self.limits.literal_before_login

    async def _timed(self, reading: Awaitable[T]) -> T:
        timeout = self.limits.idle_timeout if self.logged_in else self.limits.login_timeout
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel
            # that lands as the read completes, and a revoked device's session, already
            # out of the registry, would go on answering.
            async with asyncio.timeout(timeout):
                return await reading
        except TimeoutError:
            await self.dismiss(b"* BYE Autologout; idle for too long.\r\n")

    @staticmethod
    def _tag_of(line: bytes) -> bytes:
        match = _TAG.match(line)
        return match.group(0) if match else b"*"

    async def dismiss(self, farewell: bytes) -> NoReturn:
        """Say ``farewell`` (bounded wait) and end the connection."""
        try:
            self.writer.write(farewell)
            await asyncio.wait_for(self.writer.drain(), 5.0)
        except (ConnectionError, TimeoutError, RuntimeError):
            pass
        self.writer.close()
        raise ClientDismissed()


class FrontIMAPConnection(IMAPConnection):
    """pymap's connection reading through :class:`BoundedInput`."""

    __slots__ = ["bounded", "login_params"]

    def __init__(self, bounded: BoundedInput, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.bounded = bounded
        self.login_params = Params(max_append_len=bounded.limits.literal_before_login)

    async def read_command(self, state: ConnectionState) -> Command:
        self.bounded.command_starts()
        self.params = self.config.parsing_params if self.bounded.logged_in else self.login_params
        return await super().read_command(state)

    async def authenticate(
        self, state: ConnectionState, mech_name: bytes
    ) -> ServerCredentials | None:
        try:
            return await super().authenticate(state, mech_name)
        except UnicodeError:
            raise AuthenticationError("Invalid UTF-8 in the credentials.") from None

    async def start_tls(self) -> None:
        drop_unencrypted_input(self.bounded.reader)
        await super().start_tls()

    async def send_error_disconnect(self) -> None:
        """pymap would answer ``BYE [SERVERBUG]``; the client gets a temporary failure
        (the error itself is logged by the listener), or nothing when it is gone."""
        error = sys.exc_info()[1]
        if isinstance(error, asyncio.CancelledError):
            await super().send_error_disconnect()
        elif not isinstance(error, EOFError | ConnectionError):
            bye = ResponseBye(
                b"Temporary server failure, try again later.", ResponseCode.of(b"UNAVAILABLE")
            )
            await self.write_response(bye)
