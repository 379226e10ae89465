"""The embedded POP3 server (RFC 1939, CAPA RFC 2449, STLS RFC 2595, SASL PLAIN RFC 5034)
over the same Maildir INBOX as IMAP, behind the device authenticator.

On the STARTTLS port no credentials are accepted before STLS. Each authenticated session
is registered as a live session of its device, so revoking that device ends it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
from asyncio import StreamReader, StreamWriter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mailward.auth.interfaces import AuthenticatedDevice, FailureReason, MailProtocol
from mailward.mail.connections import drop_unencrypted_input, peer_ip
from mailward.mail.pop3_maildrop import DropMessage, Maildrop, dot_stuffed
from mailward.mail.sessions import LiveSession

if TYPE_CHECKING:
    from mailward.mail.pop3_front import Pop3Context

log = logging.getLogger(__name__)

MAX_LINE = 512  # RFC 2449 allows 255 octets for a command; be lenient, not unbounded.
MAX_ERRORS = 10
AUTH_FAILED = b"-ERR [AUTH] Authentication failed\r\n"
AUTH_UNAVAILABLE = b"-ERR [SYS/TEMP] Temporary authentication failure, try again later\r\n"
SESSION_ENDED = b"-ERR [SYS/PERM] This device's access changed; connection closed\r\n"
STORAGE_FAILED = b"-ERR [SYS/TEMP] Temporary server failure, try again later\r\n"


class MalformedLine(Exception):
    """A command line that is not UTF-8."""


class Pop3Session:
    def __init__(
        self,
        context: Pop3Context,
        reader: StreamReader,
        writer: StreamWriter,
        tls: ssl.SSLContext,
        starttls: bool,
        task: asyncio.Task[None],
    ) -> None:
        self.context = context
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.secure = not starttls
        self.task = task
        self.client_ip = peer_ip(writer)
        self.user: str | None = None
        self.device: AuthenticatedDevice | None = None
        self.drop: Maildrop | None = None
        self.live: LiveSession | None = None
        self.errors = 0
        self.commands_before_login = 0
        self.ended_by_change = False
        self.done = False

    # -- the loop ------------------------------------------------------------

    async def run(self) -> None:
        await self.send(b"+OK Mailward POP3 ready\r\n")
        while not self.done:
            if not await self.next_command():
                return
            if self.errors >= MAX_ERRORS:
                await self.send(b"-ERR Too many errors, closing\r\n")
                return

    async def next_command(self) -> bool:
        """Read and answer one command; False when the connection should end."""
        if self.device is None:
            self.commands_before_login += 1
            if self.commands_before_login > self.context.limits.commands_before_login:
                await self.send(b"-ERR [SYS/TEMP] Too many commands without logging in\r\n")
                return False
        try:
            line = await self.read_line()
            if line is None:
                return False
            command, _, argument = line.partition(" ")
            await self.dispatch(command.upper(), argument)
        except MalformedLine:
            self.errors += 1
            await self.send(b"-ERR Invalid UTF-8 in the command\r\n")
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            raise
        except OSError as exc:
            log.warning("POP3 command failed: %s", exc)
            await self.send(STORAGE_FAILED)
        return True

    async def read_line(self) -> str | None:
        limits = self.context.limits
        timeout = limits.login_timeout if self.device is None else limits.idle_timeout
        try:
            async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel
                raw = await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            await self.send(b"-ERR Line too long\r\n")
            return None
        except asyncio.IncompleteReadError:
            return None
        if len(raw) > MAX_LINE:
            await self.send(b"-ERR Line too long\r\n")
            return None
        try:
            return raw.rstrip(b"\r\n").decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedLine() from None

    async def dispatch(self, command: str, argument: str) -> None:
        table = self.transaction_commands() if self.device else self.authorization_commands()
        handler = table.get(command)
        if handler is None:
            self.errors += 1
            await self.send(b"-ERR Unknown command in this state\r\n")
            return
        await handler(argument)

    def authorization_commands(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        return {
            "CAPA": self.capa,
            "STLS": self.stls,
            "USER": self.user_command,
            "PASS": self.pass_command,
            "AUTH": self.auth,
            "QUIT": self.quit,
            "NOOP": self.noop,
        }

    def transaction_commands(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        return {
            "CAPA": self.capa,
            "STAT": self.stat,
            "LIST": self.list_command,
            "UIDL": self.uidl,
            "RETR": self.retr,
            "TOP": self.top,
            "DELE": self.dele,
            "RSET": self.rset,
            "NOOP": self.noop,
            "QUIT": self.quit,
        }

    # -- authorization ---------------------------------------------------------

    async def capa(self, _argument: str) -> None:
        caps = [b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING"]
        if self.device is None:
            caps += [b"USER", b"SASL PLAIN"] if self.secure else [b"STLS"]
        caps.append(b"IMPLEMENTATION Mailward")
        await self.send(
            b"+OK Capability list follows\r\n" + b"".join(c + b"\r\n" for c in caps) + b".\r\n"
        )

    async def stls(self, _argument: str) -> None:
        if self.secure:
            self.errors += 1
            await self.send(b"-ERR Already using TLS\r\n")
            return
        await self.send(b"+OK Begin TLS negotiation\r\n")
        drop_unencrypted_input(self.reader)
        await self.writer.start_tls(self.tls)
        self.secure = True
        self.user = None

    async def user_command(self, argument: str) -> None:
        if not await self.require_tls():
            return
        if not argument.strip():
            self.errors += 1
            await self.send(b"-ERR USER needs the email address\r\n")
            return
        self.user = argument.strip()
        await self.send(b"+OK Send the device password with PASS\r\n")

    async def pass_command(self, argument: str) -> None:
        if not await self.require_tls():
            return
        if self.user is None:
            self.errors += 1
            await self.send(b"-ERR USER first\r\n")
            return
        user, self.user = self.user, None
        await self.login(user, argument)

    async def auth(self, argument: str) -> None:
        mechanism, _, initial = argument.strip().partition(" ")
        if not mechanism:
            await self.send(b"+OK\r\nPLAIN\r\n.\r\n")
            return
        if not await self.require_tls():
            return
        if mechanism.upper() != "PLAIN":
            self.errors += 1
            await self.send(b"-ERR Unsupported mechanism; use PLAIN\r\n")
            return
        if not initial:
            await self.send(b"+ \r\n")
            initial = await self.read_line() or "*"
        if initial.strip() == "*":
            await self.send(b"-ERR Authentication cancelled\r\n")
            return
        credentials = decode_plain(initial.strip())
        if credentials is None:
            self.errors += 1
            await self.send(AUTH_FAILED)
            return
        await self.login(*credentials)

    async def require_tls(self) -> bool:
        if self.secure:
            return True
        self.errors += 1
        await self.send(b"-ERR [AUTH] Use STLS first: no credentials over an unencrypted link\r\n")
        return False

    async def login(self, user: str, password: str) -> None:
        checked_at = self.context.clock.now()
        result = await self.context.authenticator.authenticate(
            user, password, MailProtocol.POP3, self.client_ip
        )
        if not isinstance(result, AuthenticatedDevice):
            self.errors += 1
            unavailable = result.reason is not FailureReason.WRONG_CREDENTIALS
            await self.send(AUTH_UNAVAILABLE if unavailable else AUTH_FAILED)
            return
        if result.address_id in self.context.locked:
            await self.send(b"-ERR [IN-USE] Another POP3 session holds this mailbox\r\n")
            return
        self.context.locked.add(result.address_id)
        self.device = result
        self.live = self.context.registry.register(
            result.device_id, MailProtocol.POP3, self.end_by_change, checked_at
        )
        drop = Maildrop(self.context.store.ensure_inbox(result.address_id))
        await asyncio.to_thread(drop.load)
        self.drop = drop
        count, size = drop.stat()
        await self.send(f"+OK {count} messages ({size} octets)\r\n".encode())

    # -- transaction -------------------------------------------------------------

    def maildrop(self) -> Maildrop:
        assert self.drop is not None
        return self.drop

    async def stat(self, _argument: str) -> None:
        count, size = self.maildrop().stat()
        await self.send(f"+OK {count} {size}\r\n".encode())

    async def list_command(self, argument: str) -> None:
        await self.listing(argument, lambda n, m: f"{n} {m.size}")

    async def uidl(self, argument: str) -> None:
        await self.listing(argument, lambda n, m: f"{n} {m.uid}")

    async def listing(self, argument: str, row: Callable[[int, DropMessage], str]) -> None:
        if argument.strip():
            number = await self.message_number(argument)
            message = self.maildrop().get(number) if number else None
            if message is not None:
                await self.send(f"+OK {row(number, message)}\r\n".encode())
            return
        rows = "".join(row(n, m) + "\r\n" for n, m in self.maildrop().live())
        await self.send(b"+OK\r\n" + rows.encode() + b".\r\n")

    async def message_content(self, argument: str) -> tuple[int, bytes] | None:
        """The size and content of the message numbered ``argument``; None once the
        client was answered (no such message, or another client removed it)."""
        number = await self.message_number(argument)
        message = self.maildrop().get(number) if number else None
        if message is None:
            return None
        try:
            return message.size, await asyncio.to_thread(message.path.read_bytes)
        except FileNotFoundError:
            await self.send(b"-ERR That message was removed by another client\r\n")
            return None

    async def retr(self, argument: str) -> None:
        found = await self.message_content(argument)
        if found is not None:
            size, content = found
            await self.send(f"+OK {size} octets\r\n".encode() + dot_stuffed(content))

    async def top(self, argument: str) -> None:
        parts = argument.split()
        lines = parts[1] if len(parts) == 2 else ""
        if not lines.isdigit():
            self.errors += 1
            await self.send(b"-ERR TOP needs a message number and a line count\r\n")
            return
        found = await self.message_content(parts[0])
        if found is not None:
            await self.send(b"+OK\r\n" + dot_stuffed(found[1], int(lines)))

    async def dele(self, argument: str) -> None:
        number = await self.message_number(argument)
        message = self.maildrop().get(number) if number else None
        if message is None:
            return
        message.deleted = True
        await self.send(f"+OK Message {number} deleted\r\n".encode())

    async def rset(self, _argument: str) -> None:
        self.maildrop().reset()
        count, size = self.maildrop().stat()
        await self.send(f"+OK {count} messages ({size} octets)\r\n".encode())

    async def message_number(self, argument: str) -> int:
        """The message number argument, or 0 after answering -ERR."""
        text = argument.strip()
        number = int(text) if text.isdigit() and len(text) < 10 else 0
        if not number or self.maildrop().get(number) is None:
            self.errors += 1
            await self.send(b"-ERR No such message\r\n")
            return 0
        return number

    # -- common --------------------------------------------------------------------

    async def noop(self, _argument: str) -> None:
        await self.send(b"+OK\r\n")

    async def quit(self, _argument: str) -> None:
        removed = await asyncio.to_thread(self.drop.expunge) if self.drop else 0
        self.done = True
        await self.send(f"+OK Mailward POP3 signing off ({removed} messages deleted)\r\n".encode())

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def end_by_change(self) -> None:
        """Registry callback: this device was revoked or its password changed."""
        self.ended_by_change = True
        self.task.cancel()

    async def say_goodbye(self) -> None:
        """On cancellation (device changed, or shutdown), without the UPDATE state."""
        message = (
            SESSION_ENDED if self.ended_by_change else b"-ERR [SYS/TEMP] Server shutting down\r\n"
        )
        try:
            self.writer.write(message)
            async with asyncio.timeout(1.0):  # not wait_for: it can swallow a cancel
                await self.writer.drain()
        except (ConnectionError, TimeoutError, asyncio.CancelledError, RuntimeError):
            pass

    def finish(self) -> None:
        if self.live is not None:
            self.context.registry.unregister(self.live)
        if self.device is not None:
            self.context.locked.discard(self.device.address_id)


def decode_plain(encoded: str) -> tuple[str, str] | None:
    """SASL PLAIN (RFC 4616): ``authzid NUL authcid NUL password``; an authzid other
    than the login itself is refused."""
    try:
        raw = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    parts = raw.split("\x00")
    if len(parts) != 3 or not parts[1] or (parts[0] and parts[0] != parts[1]):
        return None
    return parts[1], parts[2]
