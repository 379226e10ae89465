"""Delivery of spooled messages through the smarthost, with retries and backoff; after
the retry period (or a permanent refusal) the sender gets a bounce in their INBOX. The
smarthost may refuse some recipients and take the others: those refused for good are
bounced, those refused for now stay in the spool, alone, and are retried."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime

import aiosmtplib

from mailward.core.notifications import NoticeMark, UnsentNotices
from mailward.mail.bounce import Refusal, bounce_message, given_up
from mailward.mail.directory import AddressDirectory
from mailward.mail.maildir import MailStore
from mailward.mail.spool import Spool, SpoolEntry
from mailward.settings import Settings
from mailward.tasks import stop_if_cancelled

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
    """The smarthost refused the whole message for good (a 5xx to MAIL FROM or DATA)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF) - 1)])


async def send_once(smarthost: Smarthost, entry: SpoolEntry, content: bytes) -> list[Refusal]:
    """The recipients the smarthost refused, each with its answer (none when it took them
    all). Raises :class:`PermanentFailure` on a 5xx refusal of the message, another error
    otherwise."""
    try:
        refused, _ = await aiosmtplib.send(
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
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return [Refusal(r.recipient, r.code, r.message) for r in exc.recipients]
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise PermanentFailure(exc.code, exc.message) from exc
        raise
    return [Refusal(recipient, r.code, r.message) for recipient, r in refused.items()]


def explained(refusals: list[Refusal]) -> str:
    """The refusals' reasons in one line, each said once, for the log, the spool and the
    administrators."""
    reasons = dict.fromkeys(
        f"refused by the smarthost: {r.code} {r.reason}" if r.code else r.reason for r in refusals
    )
    return "; ".join(reasons)


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
            stop_if_cancelled()
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
                stop_if_cancelled()
                await self.attempt(entry)

    async def attempt(self, entry: SpoolEntry) -> None:
        try:
            content = await asyncio.to_thread(self.spool.content, entry)
            refusals = await send_once(self.smarthost, entry, content)
        except PermanentFailure as exc:
            refusals = [Refusal(r, exc.code, exc.message) for r in entry.recipients]
        except (OSError, aiosmtplib.SMTPException) as exc:
            await self.retry_later(entry, f"{exc.__class__.__name__}: {exc}")
            return
        await self.settle(entry, refusals)

    async def settle(self, entry: SpoolEntry, refusals: list[Refusal]) -> None:
        """After the smarthost answered: the recipients it refused for good are bounced,
        those it refused for now stay in the entry and are retried, alone."""
        failed = [r for r in refusals if r.permanent]
        deferred = [r for r in refusals if not r.permanent]
        if failed:
            # bounced before the entry shrinks: a crash in between repeats, never loses
            await self.give_up(entry, failed)
        if deferred:
            entry.recipients = [r.recipient for r in deferred]
            await self.retry_later(entry, explained(deferred))
            return
        await asyncio.to_thread(self.spool.remove, entry)
        log.info("spool %s handed to the smarthost (%d refused)", entry.id, len(failed))

    async def retry_later(self, entry: SpoolEntry, error: str) -> None:
        if self.spool.clock.now() - entry.queued >= self.retry_period:
            entry.attempts += 1
            days = self.retry_period.days
            reason = f"not taken by the smarthost within {days} days: {error}"
            await self.give_up(entry, given_up(entry.recipients, reason))
            await asyncio.to_thread(self.spool.remove, entry)
            return
        await asyncio.to_thread(self.spool.postpone, entry, error, backoff(entry.attempts))

    async def give_up(self, entry: SpoolEntry, refusals: list[Refusal]) -> None:
        """Bounces ``refusals`` to the sender; the entry stays where it is."""
        log.warning(
            "spool %s: %d recipients bounced after %d attempts",
            entry.id,
            len(refusals),
            entry.attempts,
        )
        await self.tell_administrators(entry, refusals)
        # A bounce goes only into a local inbox, never back into the spool: a bounce of
        # Mailward's own notices (sent as mail_from) cannot loop.
        sender_id = await self.directory.address_id(entry.mail_from)
        if sender_id is None:
            log.info("spool %s: bounce dropped, the sender is not a local address", entry.id)
            return
        when = format_datetime(self.spool.clock.now())
        content = await asyncio.to_thread(self.returned, entry)
        bounce = bounce_message(entry, refusals, content, self.hostname, when)
        await self.store.deliver([sender_id], bounce)

    def returned(self, entry: SpoolEntry) -> bytes:
        """The message bounced, for its headers; empty when it is unreadable."""
        try:
            return self.spool.content(entry)
        except OSError:
            return b""

    async def tell_administrators(self, entry: SpoolEntry, refusals: list[Refusal]) -> None:
        """A security notice given up on is shown to the administrators, as one that
        could not be sent at once is; a broken database is logged, the bounce goes on."""
        notice = NoticeMark.from_fields(entry.extra)
        if notice is None or self.unsent is None:
            return
        to = [r.recipient for r in refusals]
        try:
            await self.unsent.record(notice, to, explained(refusals)[:500], self.spool.clock.now())
        except Exception:
            log.exception("spool %s: the notice that could not be sent was not recorded", entry.id)
