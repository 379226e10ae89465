"""pymap behind Mailward's interface: device-password login, one Maildir per address.

pymap runs on the asyncio subsystem, so logins reach the authenticator on the main loop
and every IMAP connection is one task the session registry can cancel (the client then
gets ``* BYE [UNAVAILABLE]``). Maildir file access is small and runs on the loop.
"""

from __future__ import annotations

import functools
import tempfile
from argparse import Namespace
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from ssl import SSLContext

from pymap.backend.maildir import Config as MaildirConfig
from pymap.backend.maildir import FilterSet, Session
from pymap.backend.maildir import io as pymap_maildir_io
from pymap.backend.maildir.layout import MaildirLayout
from pymap.backend.maildir.mailbox import Maildir
from pymap.concurrent import Subsystem
from pymap.exceptions import AuthorizationFailure, InvalidAuth, ResponseError
from pymap.interfaces.login import IdentityInterface, LoginInterface
from pymap.parsing.commands import Commands
from pymap.parsing.response import ResponseBad, ResponseCode, ResponseNo
from pymap.token import AllTokens
from pymap.user import UserMetadata
from pysasl import SASLAuth
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import BuiltinHash

from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthFailure,
    DeviceAuthenticator,
    FailureReason,
    MailProtocol,
)
from mailward.clock import Clock
from mailward.mail.mailbox_watch import MailboxWatcher, WatchedMailboxSet
from mailward.mail.maildir import MailStore
from mailward.mail.secrets import read_plain_credentials
from mailward.mail.sessions import LiveSession, SessionRegistry


@dataclass
class ImapClient:
    """Per-connection facts the login path needs; set by the listener per task."""

    client_ip: str
    close: Callable[[], None]  # ends this connection (cancels its task)
    client_name: str | None = None
    device: AuthenticatedDevice | None = None


current_client: ContextVar[ImapClient] = ContextVar("mailward_imap_client")


class TemporaryAuthFailure(ResponseError):
    """The authentication service could not decide: ``NO [UNAVAILABLE]``."""

    def get_response(self, tag: bytes) -> ResponseNo:
        return ResponseNo(
            tag, b"Temporary authentication failure.", ResponseCode.of(b"UNAVAILABLE")
        )


class MalformedCredentials(ResponseError):
    """LOGIN or AUTHENTICATE with a name or password that is not UTF-8: ``BAD``."""

    def get_response(self, tag: bytes) -> ResponseBad:
        return ResponseBad(tag, b"Invalid UTF-8 in the credentials.")


def is_utf8_text(text: str) -> bool:
    """False for text pymap decoded with ``surrogateescape`` from invalid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def auth_error(failure: AuthFailure) -> ResponseError:
    """The one mapping of authentication failures to IMAP answers: only a wrong
    password is "failed"; a rate-limited or undecided attempt is told to try later."""
    if failure.reason is not FailureReason.WRONG_CREDENTIALS:
        return TemporaryAuthFailure()
    return InvalidAuth("Authentication failed.")


def write_pymap_files_beside(mail_dir: Path) -> None:
    """pymap writes its uid lists to a temporary file in the system's temporary
    directory, then renames it into the Maildir: across file systems (``/tmp`` on
    tmpfs, the data directory on disk) every SELECT failed with EXDEV. Its temporary
    files go to the mail directory instead, on the same file system."""
    pymap_maildir_io.NamedTemporaryFile = functools.partial(  # type: ignore[attr-defined,assignment]
        tempfile.NamedTemporaryFile, dir=str(mail_dir), prefix=".pymap-"
    )


class ImapConfig(MaildirConfig):
    """pymap settings. ``starttls`` selects the port kind: STARTTLS (no login before
    TLS, even from localhost) or implicit TLS (login at once, no STARTTLS)."""

    def __init__(
        self, mail_dir: Path, ssl_context: SSLContext, starttls: bool, max_append: int
    ) -> None:
        args = Namespace(debug=False, passlib_cfg=None, proxy_protocol=None)
        super().__init__(
            args,
            base_dir=str(mail_dir),
            layout="++",
            colon=None,
            host=None,
            port=0,
            subsystem=Subsystem.for_asyncio(),
            cpu_subsystem=Subsystem.for_asyncio(),
            ssl_context=ssl_context,
            tls_enabled=starttls,
            reject_dnsbl=False,
            hash_context=BuiltinHash(),
            invalid_user_sleep=0.0,
            max_append_len=max_append,
            bad_command_limit=5,
        )
        # Built once: pysasl scans package entry points and pymap builds its command
        # table each time these are made, which would cost ~20 ms per connection.
        self._tls_auth = SASLAuth.named([b"PLAIN", b"LOGIN"])
        self._commands = Commands()
        self.max_append = max_append

    @property
    def tls_auth(self) -> SASLAuth:
        return self._tls_auth

    @property
    def commands(self) -> Commands:
        return self._commands

    @property
    def greeting(self) -> bytes:
        return b"Mailward IMAP ready"

    @property
    def id_response(self) -> Mapping[bytes, bytes] | None:
        return {b"name": b"Mailward"}


class DeviceLogin(LoginInterface):
    def __init__(
        self,
        config: ImapConfig,
        authenticator: DeviceAuthenticator,
        store: MailStore,
        registry: SessionRegistry,
        clock: Clock,
        watcher: MailboxWatcher,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.store = store
        self.registry = registry
        self.clock = clock
        self.watcher = watcher
        self._tokens = AllTokens(config)

    @property
    def tokens(self) -> AllTokens:
        return self._tokens

    async def authenticate(self, credentials: ServerCredentials) -> DeviceIdentity:
        client = current_client.get()
        address, password = read_plain_credentials(credentials)
        if not (is_utf8_text(address) and is_utf8_text(password)):
            raise MalformedCredentials()
        checked_at = self.clock.now()
        result = await self.authenticator.authenticate(
            address, password, MailProtocol.IMAP, client.client_ip, client.client_name
        )
        if isinstance(result, AuthFailure):
            raise auth_error(result)
        client.device = result
        return DeviceIdentity(self, result, credentials.authcid, checked_at)

    async def authorize(self, authenticated: IdentityInterface, authzid: str) -> IdentityInterface:
        if not isinstance(authenticated, DeviceIdentity) or not authenticated.may_act_as(authzid):
            raise AuthorizationFailure()
        return authenticated


class DeviceIdentity(IdentityInterface):
    """A device logged in: its session opens the address's Maildir and is registered
    as a live session of the device until the connection ends."""

    def __init__(
        self, login: DeviceLogin, device: AuthenticatedDevice, typed: str, checked_at: datetime
    ) -> None:
        self.login = login
        self.device = device
        self.typed = typed
        self.checked_at = checked_at

    @property
    def name(self) -> str:
        return self.device.address

    @property
    def roles(self) -> frozenset[str]:
        return frozenset()

    def may_act_as(self, authzid: str) -> bool:
        wanted = authzid.strip().lower()
        return wanted in ("", self.typed.strip().lower(), self.device.address.lower())

    @asynccontextmanager
    async def new_session(self) -> AsyncIterator[Session]:
        login = self.login
        client = current_client.get()
        live = self._register(client)
        mailbox_set: WatchedMailboxSet | None = None
        try:
            path = login.store.ensure_inbox(self.device.address_id)
            layout = MaildirLayout.get(str(path), login.config.layout, Maildir)
            maildir = Maildir(str(path), create=False)
            mailbox_set = WatchedMailboxSet(maildir, layout, login.watcher)
            yield Session(self.name, login.config, mailbox_set, FilterSet(layout.path))
        finally:
            if mailbox_set is not None:
                mailbox_set.close()
            login.registry.unregister(live)

    def _register(self, client: ImapClient) -> LiveSession:
        return self.login.registry.register(
            self.device.device_id, MailProtocol.IMAP, client.close, self.checked_at
        )

    async def new_token(self, *, expiration: datetime | None = None) -> str | None:
        return None

    async def get(self) -> UserMetadata:
        return UserMetadata(self.login.config, self.name)

    async def set(self, metadata: UserMetadata) -> int | None:
        raise InvalidAuth("Not allowed.")

    async def delete(self) -> None:
        raise InvalidAuth("Not allowed.")
