"""The embedded mail service: IMAP and POP3 (STARTTLS + implicit TLS), submission (STARTTLS +
implicit TLS), inbound SMTP, the outbound spool and the live-session registry, started
and stopped together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from mailward.auth.interfaces import DeviceAuthenticator
from mailward.bootstrap import Services
from mailward.mail.connections import ConnectionGate, ConnectionTracker, FrontLimits
from mailward.mail.directory import DatabaseDirectory
from mailward.mail.imap import ImapListener
from mailward.mail.imap_backend import DeviceLogin, ImapConfig, write_pymap_files_beside
from mailward.mail.inbound_checks import InboundChecks
from mailward.mail.mailbox_watch import MailboxWatcher
from mailward.mail.maildir import MailStore
from mailward.mail.outbound import OutboundWorker
from mailward.mail.pop3_front import Pop3Context, Pop3Listener
from mailward.mail.smtp_handlers import Delivery, InboundHandler, SubmissionHandler
from mailward.mail.smtp_protocol import DeviceSMTP, SmtpAuthContext
from mailward.mail.spool import Spool
from mailward.mail.tls import ServerTls
from mailward.mail.tls_buffer import bound_tls_read_buffer
from mailward.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailPorts:
    """The ports actually bound (a configured 0 picks a free one)."""

    imap: int
    imaps: int
    submission: int
    submissions: int
    smtp: int
    pop3: int
    pop3s: int


class MailServer:
    def __init__(
        self, settings: Settings, services: Services, authenticator: DeviceAuthenticator
    ) -> None:
        self.settings = settings
        self.services = services
        self.authenticator = authenticator
        self.registry = services.sessions  # a changed device's sessions end at once
        self.store = MailStore(settings.mail_dir)
        self.directory = DatabaseDirectory(services.db, services.mail_services)
        self.tls = ServerTls.from_settings(
            settings.tls_dir, settings.hostname, settings.tls_cert_file, settings.tls_key_file
        )
        self.imap_connections = ConnectionTracker()
        self.gate = ConnectionGate(
            settings.mail_max_connections,
            settings.mail_max_connections_per_network,
            settings.ipv6_prefix_length,
        )
        self.pop3 = Pop3Context(
            authenticator,
            self.store,
            self.registry,
            services.clock,
            ConnectionTracker(),
            set(),
            self.gate,
            FrontLimits.from_settings(settings, settings.pop3_idle_timeout_seconds),
        )
        self.smtp_connections: set[DeviceSMTP] = set()
        # The node's one outbound spool, shared with the notices and invitations.
        self.outbound: OutboundWorker | None = services.outbox.worker
        self.spool: Spool | None = services.outbox.spool if self.outbound else None
        self.mailbox_watcher = MailboxWatcher()
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.ports: MailPorts | None = None

    async def start(self) -> MailPorts:
        """Bind every listener; when this returns, each one accepts connections. After
        a failure, :meth:`stop` closes the listeners bound so far."""
        self.services.outbox.start()  # first: stop() stops it, after a partial start too
        self.settings.mail_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_pymap_files_beside(self.settings.mail_dir)
        self.mailbox_watcher.start()
        bound_tls_read_buffer()  # idle sessions over TLS: 32 KiB each instead of 256
        s = self.settings
        self.ports = MailPorts(
            imap=await self._imap(s.imap_port, starttls=True),
            imaps=await self._imap(s.imaps_port, starttls=False),
            submission=await self._smtp(s.submission_port, self._submission(), implicit=False),
            submissions=await self._smtp(s.submissions_port, self._submission(), implicit=True),
            smtp=await self._smtp(s.smtp_port, self._inbound(), implicit=False),
            pop3=await self._pop3(s.pop3_port, starttls=True),
            pop3s=await self._pop3(s.pop3s_port, starttls=False),
        )
        return self.ports

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, then end every session (IMAP clients get ``* BYE``)."""
        for server in self._servers:
            server.close()
        for task in self._tasks:
            task.cancel()
        for protocol in list(self.smtp_connections):
            protocol.end_session()
        await self.imap_connections.close_all(grace)
        await self.pop3.tracker.close_all(grace)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.mailbox_watcher.close()
        await self.services.outbox.stop()

    def reload_tls(self) -> None:
        try:
            self.tls.reload()
        except (OSError, ValueError) as exc:
            log.error("TLS reload failed, keeping the old certificate: %s", exc)
        else:
            log.info("TLS certificate reloaded from %s", self.tls.paths.cert)

    # -- listeners -----------------------------------------------------------

    async def _bind(self, server: asyncio.Server) -> int:
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def _imap(self, port: int, starttls: bool) -> int:
        s = self.settings
        config = ImapConfig(s.mail_dir, self.tls.context, starttls, s.max_message_bytes)
        login = DeviceLogin(
            config,
            self.authenticator,
            self.store,
            self.registry,
            self.services.clock,
            self.mailbox_watcher,
        )
        limits = FrontLimits.from_settings(s, s.imap_idle_timeout_seconds)
        listener = ImapListener(login, config, self.imap_connections, self.gate, limits)
        ssl = None if starttls else self.tls.context
        return await self._bind(await asyncio.start_server(listener, s.bind, port, ssl=ssl))

    async def _pop3(self, port: int, starttls: bool) -> int:
        listener = Pop3Listener(self.pop3, self.tls.context, starttls)
        ssl = None if starttls else self.tls.context
        server = await asyncio.start_server(listener, self.settings.bind, port, ssl=ssl)
        return await self._bind(server)

    def _delivery(self) -> Delivery:
        return Delivery(self.directory, self.store, self.settings.hostname, self.services.clock)

    def _submission(self) -> SubmissionHandler:
        return SubmissionHandler(self._delivery(), self.spool, self.services.outbox.signer)

    def _inbound(self) -> InboundHandler:
        s = self.settings
        checks = None
        if s.inbound_checks:
            checks = InboundChecks(s.hostname, s.dns_resolvers, s.dns_timeout_seconds)
        return InboundHandler(self._delivery(), checks)

    async def _smtp(self, port: int, handler: Any, implicit: bool) -> int:
        s = self.settings
        submission = isinstance(handler, SubmissionHandler)
        auth = SmtpAuthContext(self.authenticator, self.registry, self.services.clock)
        options: dict[str, Any] = {
            "hostname": s.hostname,
            "ident": "Mailward ESMTP",
            "data_size_limit": s.max_message_bytes,
            "enable_SMTPUTF8": True,
            "auth_required": submission,
            "auth_require_tls": not implicit,
            "tls_context": None if implicit else self.tls.context,
            "require_starttls": submission and not implicit,
            "timeout": s.smtp_timeout_seconds,
            "loop": asyncio.get_running_loop(),
        }
        limits = FrontLimits.from_settings(s, s.smtp_timeout_seconds)

        def factory() -> DeviceSMTP:
            return DeviceSMTP(
                handler,
                auth if submission else None,
                self.smtp_connections,
                self.gate,
                limits,
                **options,
            )

        ssl = self.tls.context if implicit else None
        loop = asyncio.get_running_loop()
        return await self._bind(await loop.create_server(factory, s.bind, port, ssl=ssl))
