"""The emails about a device's use: unused (keep it or lose it), the weekly digest of
devices about to expire, and a login from a new network. Composed like every notice
(:mod:`mailward.core.notifications`) and sent through the one mailer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.permissions import MANAGER_ROLES
from mailward.core.audit.events import AuditTarget
from mailward.core.notifications import NoticeMark, compose_email, email_html
from mailward.db.models import Account, Address, Device, MailService, Membership


@dataclass(frozen=True)
class DeviceFacts:
    """What a notice says about a device, and who hears it."""

    device_id: int
    address_id: int
    organization_id: int
    address: str
    device_name: str
    user_email: str | None


def notice_mark(kind: str, facts: DeviceFacts) -> NoticeMark:
    """The mark of a notice about the device: one not sent is shown on its address's
    Devices tab, as the device password notices are."""
    target = AuditTarget(facts.organization_id, facts.address_id, facts.device_id, facts.address)
    return NoticeMark(kind, facts.device_name, target)


@dataclass(frozen=True)
class NetworkUse:
    network: str
    at: datetime
    ip: str
    protocol: str
    client: str | None


def day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def minute(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


async def device_facts(session: AsyncSession, device_ids: Iterable[int]) -> dict[int, DeviceFacts]:
    rows = await session.execute(
        select(Device, Address, MailService, Account.email)
        .join(Address, Address.id == Device.address_id)
        .join(MailService, MailService.id == Address.mail_service_id)
        .outerjoin(Account, Account.id == Device.user_account_id)
        .where(Device.id.in_(set(device_ids)))
    )
    return {
        d.id: DeviceFacts(d.id, a.id, m.organization_id, a.email_at(m), d.name, user_email)
        for d, a, m, user_email in rows
    }


async def managers_emails(session: AsyncSession, organization_id: int) -> list[str]:
    emails = await session.scalars(
        select(Account.email)
        .join(Membership, Membership.account_id == Account.id)
        .where(
            Membership.organization_id == organization_id,
            Membership.role.in_([r.value for r in MANAGER_ROLES]),
        )
        .order_by(Account.email)
    )
    return list(emails)


async def told_about(session: AsyncSession, facts: DeviceFacts) -> list[str]:
    """The device's user; for a device without user, the organization's administrators."""
    if facts.user_email:
        return [facts.user_email]
    return await managers_emails(session, facts.organization_id)


def unused_notice(
    sender: str, to: list[str], facts: DeviceFacts, idle_since: datetime,
    revoke_on: datetime, keep_link: str, at: datetime,
) -> EmailMessage:  # fmt: skip
    subject = f"Unused device: {facts.device_name} ({facts.address}) will be revoked"
    paragraphs = [
        f"The device “{facts.device_name}” of {facts.address} has not logged in since "
        f"{day(idle_since)}.",
        f"Its password will be revoked on {day(revoke_on)}, by your organization's policy "
        "on unused devices. Nothing else changes: other devices keep working.",
        "Still using it? Open the link below and press “Keep this device” (the link works "
        f"once, until {day(revoke_on)}). Logging in with the device keeps it too.",
    ]
    text = "\n\n".join([*paragraphs, keep_link]) + "\n"
    return compose_email(sender, to, subject, text, email_html(subject, paragraphs, keep_link), at)


def unused_digest(
    sender: str, to: list[str], organization: str,
    expiring: list[tuple[DeviceFacts, datetime, datetime]], at: datetime,
) -> EmailMessage:  # fmt: skip
    """``expiring``: (device, idle since, revoked on), soonest first."""
    subject = f"{organization}: {len(expiring)} unused device(s) about to be revoked"
    lines = [
        f"{f.device_name} ({f.address}, {f.user_email or 'without user'}): unused since "
        f"{day(idle)}, revoked on {day(revoke)}"
        for f, idle, revoke in expiring
    ]
    paragraphs = [
        f"These devices of {organization} have not logged in for a long time and will be "
        "revoked by the organization's policy on unused devices unless they log in or "
        "someone keeps them (link in the notice to each device's user, or the device's "
        "page in the manager):",
        *lines,
    ]
    return compose_email(
        sender, to, subject, "\n".join(paragraphs) + "\n", email_html(subject, paragraphs), at
    )


def new_network_notice(
    sender: str, to: list[str], facts: DeviceFacts, uses: list[NetworkUse],
    revoke_link: str, at: datetime,
) -> EmailMessage:  # fmt: skip
    subject = f"New network for {facts.device_name} ({facts.address})"
    paragraphs = [
        f"The device “{facts.device_name}” of {facts.address} logged in from a new network."
    ]
    for use in uses:
        paragraphs.append(
            f"When: {minute(use.at)}; IP address: {use.ip} (network {use.network}); "
            f"protocol: {use.protocol.upper()}; client: {use.client or 'unknown'}"
        )
    paragraphs.append(
        "If this was you (a new Wi-Fi, a trip, a new phone plan), nothing needs doing. "
        "If not, revoke the device's password now (you sign in and confirm your password "
        "first):"
    )
    text = "\n\n".join([*paragraphs, revoke_link]) + "\n"
    return compose_email(
        sender, to, subject, text, email_html(subject, paragraphs, revoke_link), at
    )
