"""The one way Mailward sends email of its own (security notices, setup-assistant
invitations, email-proof codes): local recipients get the message in their inbox, on
disk before :meth:`OutboxMailer.send` returns; the others are written to the durable
outbound spool (fsynced) and handed to the smarthost by the outbound worker, with its
retries and bounces. Sending never waits on the smarthost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses, parseaddr

from mailward.bootstrap import Services
from mailward.core.notifications import Mailer, NoticeMark, SendResult, UnsentNotices
from mailward.mail.directory import AddressDirectory, DatabaseDirectory
from mailward.mail.dkim_signing import DkimSigner
from mailward.mail.maildir import MailStore
from mailward.mail.outbound import OutboundWorker, Smarthost, smarthost_of
from mailward.mail.spool import Spool

log = logging.getLogger(__name__)

# The reason only: each caller says what to do (the setup-assistant page: copy the link).
NO_SMARTHOST = "no smarthost is configured for addresses outside this server"


@dataclass(eq=False)
class Outbox:
    """The node's spool, mail store and outbound worker; the worker runs while at
    least one user (the mail server, ``serve``) has started it."""

    spool: Spool
    store: MailStore
    directory: AddressDirectory
    smarthost: Smarthost | None
    hostname: str
    signer: DkimSigner | None = None
    unsent: UnsentNotices | None = None
    worker: OutboundWorker | None = field(init=False)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _users: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.worker = None
        if self.smarthost is not None:
            where = (self.spool, self.smarthost, self.store, self.directory, self.hostname)
            self.worker = OutboundWorker(*where, unsent=self.unsent)

    def start(self) -> None:
        self._users += 1
        if self.worker is not None and self._task is None:
            self._task = asyncio.create_task(self.worker.run(), name="outbound-spool")

    async def stop(self) -> None:
        self._users = max(0, self._users - 1)
        task = self._task
        if self._users or task is None:
            return
        self._task = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_outbox(services: Services) -> Outbox:
    settings = services.settings
    return Outbox(
        Spool(settings.data_dir / "spool", services.clock),
        MailStore(settings.mail_dir),
        DatabaseDirectory(services.db, services.mail_services),
        smarthost_of(settings),
        settings.hostname,
        DkimSigner(services.dkim),
        UnsentNotices(services.db),
    )


def recipients_of(message: EmailMessage) -> list[str]:
    return [addr for _, addr in getaddresses(message.get_all("To", [])) if addr]


@dataclass(eq=False)
class OutboxMailer:
    """The :class:`~mailward.core.notifications.Mailer` of a running Mailward."""

    outbox: Outbox

    async def send(self, message: EmailMessage, notice: NoticeMark | None = None) -> SendResult:
        local, remote = await self._split(recipients_of(message))
        content = message.as_bytes(policy=SMTP)
        if self.outbox.signer is not None:
            content = await self.outbox.signer.sign(content)
        delivered, queued, undelivered, reasons = [], [], [], []
        if local:
            try:
                await self.outbox.store.deliver(local.values(), content)
                delivered = list(local)
            except OSError as exc:
                undelivered += list(local)
                reasons.append(f"the local mailbox could not be written ({exc.strerror})")
        if remote and self.outbox.smarthost is None:
            undelivered += remote
            reasons.append(NO_SMARTHOST)
        elif remote:
            try:
                sender = parseaddr(str(message["From"]))[1]
                mark = notice.fields() if notice else None
                await self.outbox.spool.enqueue(sender, remote, content, mark)
                queued = remote
            except OSError as exc:
                log.warning("outbound spool not writable: %s", exc.strerror)
                undelivered += remote
                reasons.append(f"the outbound spool could not be written ({exc.strerror})")
        return SendResult(delivered, undelivered, "; ".join(reasons), queued)

    async def _split(self, recipients: list[str]) -> tuple[dict[str, int], list[str]]:
        local: dict[str, int] = {}
        remote: list[str] = []
        for email in recipients:
            address_id = await self.outbox.directory.address_id(email)
            if address_id is None:
                remote.append(email)
            else:
                local[email] = address_id
        return local, remote


def send_security_notices(services: Services, mailer: Mailer | None = None) -> None:
    """Security notices of this process's device changes, wired once per node
    (:meth:`~mailward.bootstrap.Services.send_security_notices`)."""
    services.send_security_notices(mailer)
