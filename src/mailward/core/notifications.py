"""Emails Mailward sends: setup-assistant invitations and security notices.

Messages are composed here (text and HTML alternatives, the configured sender) and
handed to a :class:`Mailer`. The running service's mailer
(:class:`mailward.mail.outbox.OutboxMailer`, wired at the edges) puts a message
straight into the inbox of a local address and writes the rest to the durable outbound
spool, whose worker hands it to the smarthost with retries; when it can do neither it
says so in its result, and the manager shows that to the administrator.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html import escape
from typing import Protocol

from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import MANAGER_ROLES
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import DeviceChangeNotice
from mailward.core.invitations.service import InvitationView
from mailward.db.engine import Database
from mailward.db.models import (
    Account,
    Address,
    AddressUser,
    AuditEvent,
    Device,
    MailService,
    Membership,
)

log = logging.getLogger(__name__)
NOTICE_ACTOR = "Mailward (security notice)"

NOTICE_KINDS = {
    "add": "A device password was created",
    "password": "A device password was changed",
    "revoke": "A device password was revoked",
}


@dataclass(frozen=True)
class SendResult:
    """What happened to a message, per recipient, in words a manager page can show:
    ``delivered`` are in a local inbox, ``queued`` are in the durable outbound spool
    (the smarthost gets them, with retries), ``undelivered`` could not be either."""

    delivered: list[str] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)
    reason: str = ""
    queued: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.delivered or self.queued) and not self.undelivered

    def summary(self, what: str) -> str:
        """One honest sentence about ``what`` ("The invitation") for the page."""
        parts = []
        if self.delivered:
            parts.append(f"{what} was sent to {', '.join(self.delivered)} (in the inbox now).")
        if self.queued:
            parts.append(
                f"{what} to {', '.join(self.queued)} is queued for delivery: this server "
                "hands it to the smarthost and keeps retrying for days if needed."
            )
        if self.undelivered:
            parts.append(
                f"{what} could not be sent to {', '.join(self.undelivered)}: {self.reason}."
            )
        return " ".join(parts) or f"{what} had no recipient."


@dataclass(frozen=True)
class NoticeMark:
    """What a security notice is about: kept beside it in the outbound spool (names and
    ids, never a secret), so that a notice the smarthost later refuses, or does not take
    within the retry period, is shown to the administrators like one that could not be
    sent at once."""

    kind: str
    device_name: str
    target: AuditTarget

    def fields(self) -> dict[str, str]:
        t = self.target
        return {
            "notice": self.kind, "device": self.device_name, "address": t.label,
            "organization_id": str(t.organization_id), "address_id": str(t.address_id),
            "device_id": str(t.device_id),
        }  # fmt: skip

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> NoticeMark | None:
        """The mark of a spooled message, None for any other message."""
        try:
            target = AuditTarget(
                int(fields["organization_id"]), int(fields["address_id"]),
                int(fields["device_id"]), fields["address"],
            )  # fmt: skip
            return cls(fields["notice"], fields["device"], target)
        except (KeyError, ValueError):
            return None


class Mailer(Protocol):
    async def send(self, message: EmailMessage, notice: NoticeMark | None = None) -> SendResult:
        """Deliver ``message`` to its local To recipients and queue it durably for the
        others (with ``notice``, the mark of a security notice); returns without waiting
        on any remote server. Never raises: failures are reported in the result."""
        ...


class NullMailer:
    """Sending switched off: nothing leaves, and the result says so."""

    async def send(self, message: EmailMessage, notice: NoticeMark | None = None) -> SendResult:
        recipients = [addr for _, addr in getaddresses(message.get_all("To", [])) if addr]
        return SendResult([], recipients, "sending email is switched off on this server")


# -- composing -------------------------------------------------------------------------


def compose_email(
    sender: str, to: list[str], subject: str, text: str, html: str, at: datetime
) -> EmailMessage:
    """An email of Mailward's own: ``text`` and its ``html`` alternative (from
    :func:`email_html`), automatic (``Auto-Submitted``), dated ``at``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def email_html(title: str, paragraphs: list[str], link: str | None = None) -> str:
    """The HTML alternative of an email: ``paragraphs`` (escaped), then ``link``."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if link:
        body += f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def invitation_message(
    sender: str, invitation: InvitationView, link: str, at: datetime
) -> EmailMessage:
    expires = invitation.expires_at.strftime("%Y-%m-%d")
    paragraphs = [
        f"{invitation.created_by} invites you to set up {invitation.address} on your device "
        f"“{invitation.device_name}”.",
        "Open the link below, sign in (or choose your password if you are new here), and "
        "Mailward gives you the password for your device and the settings for your mail "
        "program.",
        f"The link works once and until {expires}. Do not forward it.",
    ]
    text = "\n\n".join([*paragraphs[:2], link, paragraphs[2]]) + "\n"
    subject = f"Set up {invitation.address} on your device"
    return compose_email(
        sender, [invitation.email], subject, text, email_html(subject, paragraphs, link), at
    )


@dataclass(frozen=True)
class DeviceEvent:
    kind: str
    address: str
    device_name: str
    actor: str
    ip: str | None
    at: datetime


def security_notice(sender: str, to: list[str], event: DeviceEvent) -> EmailMessage:
    headline = NOTICE_KINDS.get(event.kind, "A device password changed")
    when = event.at.strftime("%Y-%m-%d %H:%M UTC")
    paragraphs = [
        f"{headline} for {event.address}.",
        f"Device: {event.device_name}",
        f"By: {event.actor}",
        f"When: {when}",
        f"From IP address: {event.ip or 'unknown'}",
        "If you did not expect this, ask an administrator of your organization to revoke "
        "the device's password.",
    ]
    subject = f"{headline}: {event.device_name} ({event.address})"
    return compose_email(
        sender, to, subject, "\n".join(paragraphs) + "\n", email_html(subject, paragraphs), event.at
    )


def account_notice(
    sender: str, to: str, headline: str, ip: str | None, at: datetime
) -> EmailMessage:
    """A security notice about one's own account (a passkey added or removed)."""
    paragraphs = [
        f"{headline}.",
        f"When: {at.strftime('%Y-%m-%d %H:%M UTC')}",
        f"From IP address: {ip or 'unknown'}",
        "If this was not you, sign in to Mailward, remove what you do not recognize, change "
        "your password and sign out everywhere from My account.",
    ]
    subject = f"Mailward: {headline}"
    return compose_email(
        sender, [to], subject, "\n".join(paragraphs) + "\n", email_html(subject, paragraphs), at
    )


# -- security notices on device changes ------------------------------------------------


class UnsentNotices:
    """Security notices that could not be sent go into the audit log, where the
    address's Devices tab and the organization's log show them to the administrators:
    at once when neither delivered nor queued, or later when the smarthost refused a
    queued one or did not take it within the retry period (the outbound worker)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, notice: NoticeMark, to: list[str], reason: str, at: datetime) -> None:
        async with self.db.unit_of_work() as uow:
            record(
                uow.session, Actor(None, NOTICE_ACTOR), AuditTag.NOTICE_NOT_SENT, notice.target,
                at, notice=notice.kind, device=notice.device_name, to=", ".join(to),
                reason=reason,
            )  # fmt: skip


async def send_notice(
    mailer: Mailer, unsent: UnsentNotices, message: EmailMessage, mark: NoticeMark, at: datetime
) -> SendResult:
    """Sends a security notice about a device with its mark: the recipients it could not
    be sent to at once are recorded now, those the smarthost refuses later by the
    outbound worker (the mark goes into the spool with it)."""
    result = await mailer.send(message, mark)
    if result.undelivered:
        await unsent.record(mark, result.undelivered, result.reason, at)
    return result


class SecurityNotices:
    """Subscribed to device changes: tells the address's users and the organization's
    administrators who created, changed or revoked a device password."""

    def __init__(self, db: Database, mailer: Mailer, sender: str) -> None:
        self.db = db
        self.mailer = mailer
        self.sender = sender
        self.unsent = UnsentNotices(db)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        if notice.kind not in NOTICE_KINDS:
            return
        found = await self._event(notice)
        if found is None:
            return
        event, recipients, target = found
        if not recipients:
            return
        mark = NoticeMark(notice.kind, event.device_name, target)
        message = security_notice(self.sender, recipients, event)
        result = await send_notice(self.mailer, self.unsent, message, mark, event.at)
        log.info(
            "security notice %s: %d delivered, %d queued, %d not",
            notice.kind,
            len(result.delivered),
            len(result.queued),
            len(result.undelivered),
        )

    async def _event(
        self, notice: DeviceChangeNotice
    ) -> tuple[DeviceEvent, list[str], AuditTarget] | None:
        async with self.db.unit_of_work() as uow:
            s = uow.session
            row = (
                await s.execute(
                    select(Device, Address, MailService)
                    .join(Address, Address.id == Device.address_id)
                    .join(MailService, MailService.id == Address.mail_service_id)
                    .where(Device.id == notice.device_id)
                )
            ).first()
            if row is None:
                return None
            device, address, mail_service = row
            audit = await s.scalar(
                select(AuditEvent)
                .where(AuditEvent.device_id == device.id)
                .where(AuditEvent.action != str(AuditTag.NOTICE_NOT_SENT))
                .order_by(AuditEvent.id.desc())
                .limit(1)
            )
            users = select(Account.email).join(AddressUser, AddressUser.account_id == Account.id)
            managers = select(Account.email).join(Membership, Membership.account_id == Account.id)
            emails = set(await s.scalars(users.where(AddressUser.address_id == address.id)))
            emails |= set(
                await s.scalars(
                    managers.where(
                        Membership.organization_id == mail_service.organization_id,
                        Membership.role.in_([r.value for r in MANAGER_ROLES]),
                    )
                )
            )
        event = DeviceEvent(
            kind=notice.kind,
            address=address.email_at(mail_service),
            device_name=device.name,
            actor=audit.actor if audit else "unknown",
            ip=audit.actor_ip if audit else None,
            at=notice.at or (audit.at if audit else device.password_changed_at),
        )
        target = AuditTarget(mail_service.organization_id, address.id, device.id, event.address)
        return event, sorted(emails), target
