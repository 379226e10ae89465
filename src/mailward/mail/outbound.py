"""Delivery of spooled messages through the smarthost, with retries and backoff; after
the retry period (or a permanent refusal) the sender gets a bounce in their INBOX."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime, make_msgid

import aiosmtplib

from mailward.core.notifications import NoticeMark, UnsentNotices
from mailward.mail.directory import AddressDirectory
from mailward.mail.maildir import MailStore
from mailward.mail.spool import Spool, SpoolEntry
from mailward.settings import Settings

log = logging.getLogger(__name__)

BACKOFF = (60, 300, 900, 1800, 3600, 3 * 3600)
RETRY_PERIOD = timedelta(days=5)


@dataclass(frozen=True)
class Smarthost:
    host: str
    port: int
    username: str | None
    password: str | None  # from settings; never logged
    starttls: bool
    timeout: float = 60.0

    def __repr__(self) -> str:
        return f"Smarthost({self.host}:{self.port})"


def smarthost_of(settings: Settings) -> Smarthost | None:
    if not settings.smarthost:
        return None
    password = settings.smarthost_password
    return Smarthost(
        settings.smarthost,
        settings.smarthost_port,
        settings.smarthost_username,
        password.get_secret_value() if password else None,
        settings.smarthost_starttls,
    )


class PermanentFailure(Exception):
    pass


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF) - 1)])


async def send_once(smarthost: Smarthost, entry: SpoolEntry, content: bytes) -> None:
    """Raises :class:`PermanentFailure` on a 5xx refusal, another error otherwise."""
    try:
        await aiosmtplib.send(
            content,
            sender=entry.mail_from,
            recipients=entry.recipients,
            hostname=smarthost.host,
            port=smarthost.port,
            username=smarthost.username,
            password=smarthost.password,
            start_tls=smarthost.starttls,
            timeout=smarthost.timeout,
        )
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise PermanentFailure(f"{exc.code} {exc.message}") from exc
        raise
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentFailure(str(exc)) from exc
        raise


def bounce_message(entry: SpoolEntry, hostname: str, reason: str, when: str) -> bytes:
    recipients = ", ".join(entry.recipients)
    text = (
        f"From: Mail Delivery System <mailer-daemon@{hostname}>\r\n"
        f"To: <{entry.mail_from}>\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {when}\r\n"
        f"Message-ID: {make_msgid(domain=hostname)}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\n"
        f"Your message to {recipients} could not be delivered.\r\n"
        f"Attempts: {entry.attempts}. Last error: {reason}\r\n"
    )
    return text.encode("utf-8", "replace")


@dataclass(eq=False)
class OutboundWorker:
    """Hands the spool's due messages to the smarthost; bounces what it gives up on and
    tells the administrators of a security notice among them (``unsent``)."""

    spool: Spool
    smarthost: Smarthost
    store: MailStore
    directory: AddressDirectory
    hostname: str
    retry_period: timedelta = RETRY_PERIOD
    unsent: UnsentNotices | None = None

    async def run(self, interval: float = 30.0) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbound spool pass failed")
            self.spool.wakeup.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # lands as the wakeup comes, and the spool's stop then waited forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self.spool.wakeup.wait()

    async def run_once(self) -> None:
        now = self.spool.clock.now()
        for entry in await asyncio.to_thread(self.spool.entries):
            if entry.due <= now:
                await self.attempt(entry)

    async def attempt(self, entry: SpoolEntry) -> None:
        try:
            content = await asyncio.to_thread(self.spool.content, entry)
            await send_once(self.smarthost, entry, content)
        except PermanentFailure as exc:
            await self.bounce(entry, f"refused by the smarthost: {exc}")
            return
        except (OSError, aiosmtplib.SMTPException) as exc:
            await self.retry_later(entry, f"{exc.__class__.__name__}: {exc}")
            return
        await asyncio.to_thread(self.spool.remove, entry)
        log.info("spool %s handed to the smarthost", entry.id)

    async def retry_later(self, entry: SpoolEntry, error: str) -> None:
        if self.spool.clock.now() - entry.queued >= self.retry_period:
            entry.attempts += 1
            days = self.retry_period.days
            await self.bounce(entry, f"not taken by the smarthost within {days} days: {error}")
            return
        await asyncio.to_thread(self.spool.postpone, entry, error, backoff(entry.attempts))

    async def bounce(self, entry: SpoolEntry, reason: str) -> None:
        log.warning("spool %s bounced after %d attempts", entry.id, entry.attempts)
        await self.tell_administrators(entry, reason)
        # A bounce goes only into a local inbox, never back into the spool: a bounce of
        # Mailward's own notices (sent as mail_from) cannot loop.
        sender_id = await self.directory.address_id(entry.mail_from)
        if sender_id is not None:
            when = format_datetime(self.spool.clock.now())
            bounce = bounce_message(entry, self.hostname, reason, when)
            await self.store.deliver([sender_id], bounce)
        else:
            log.info("spool %s: bounce dropped, the sender is not a local address", entry.id)
        await asyncio.to_thread(self.spool.remove, entry)

    async def tell_administrators(self, entry: SpoolEntry, reason: str) -> None:
        """A security notice given up on is shown to the administrators, as one that
        could not be sent at once is; a broken database is logged, the bounce goes on."""
        notice = NoticeMark.from_fields(entry.extra)
        if notice is None or self.unsent is None:
            return
        try:
            await self.unsent.record(notice, entry.recipients, reason[:500], self.spool.clock.now())
        except Exception:
            log.exception("spool %s: the notice that could not be sent was not recorded", entry.id)
