"""Unused devices expire by their organization's policy (core/organizations/policy.py).

A device is idle since its last login, or since someone kept it, or (never used) since
its creation. After ``unused_notice_days`` its user (the administrators for a device
without user) gets a notice with a "keep it" link; after ``unused_revoke_days``, and
never less than the grace between the two after the notice, it is revoked. A login or
"keep it" in between starts the count again. Administrators get a weekly digest of the
devices about to expire. Every step is in the audit log.

The "keep it" link carries a token: device id, the time of the notice, and an HMAC
under the key ring. It works once (keeping clears the notice time it names) and only
until the device's revocation date.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.devices.notices import (
    DeviceFacts,
    device_facts,
    managers_emails,
    notice_mark,
    told_about,
    unused_digest,
    unused_notice,
)
from mailward.core.devices.service import DeviceService
from mailward.core.notifications import Mailer, NoticeMark, UnsentNotices, send_notice
from mailward.db.models import Address, Device, MailService, Organization
from mailward.errors import InvalidInput

POLICY_ACTOR = Actor(account_id=None, label="Mailward (unused-device policy)")
KEEP_PURPOSE = "keep-device"
DIGEST_EVERY = timedelta(days=7)


def idle_since(device: Device) -> datetime:
    return max(t for t in (device.created_at, device.last_used_at, device.kept_at) if t)


@dataclass(frozen=True)
class Timeline:
    notice_days: int
    revoke_days: int

    def revoke_on(self, device: Device) -> datetime:
        """When the device goes: revoke_days idle, and never before the full grace
        after its notice (a policy switched on late still warns first)."""
        due = idle_since(device) + timedelta(days=self.revoke_days)
        if device.unused_notice_at is not None:
            grace = timedelta(days=self.revoke_days - self.notice_days)
            due = max(due, device.unused_notice_at + grace)
        return due


@dataclass
class SweepResult:
    noticed: list[int] = field(default_factory=list)
    revoked: list[int] = field(default_factory=list)
    digests: list[int] = field(default_factory=list)


def keep_token(deps: CoreDeps, device_id: int, notice_at: datetime) -> str:
    stamp = int(notice_at.timestamp())
    mac = deps.keys.mac(KEEP_PURPOSE, str(device_id).encode(), str(stamp).encode()).hex()[:40]
    return f"{device_id}.{stamp}.{mac}"


def read_keep_token(deps: CoreDeps, token: str) -> tuple[int, int]:
    """(device id, notice stamp) of a token signed by any key of the ring."""
    refused = InvalidInput("link", "this link is not valid (it may be incomplete)")
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise refused
    for key_id in deps.keys.keys:
        mac = deps.keys.mac(KEEP_PURPOSE, parts[0].encode(), parts[1].encode(), key_id=key_id)
        if hmac.compare_digest(mac.hex()[:40], parts[2]):
            return int(parts[0]), int(parts[1])
    raise refused


class UnusedDevices:
    def __init__(
        self, deps: CoreDeps, devices: DeviceService, mailer: Mailer, sender: str, public_url: str
    ) -> None:
        self.deps = deps
        self.devices = devices
        self.mailer = mailer
        self.sender = sender
        self.public_url = public_url.rstrip("/")
        self.unsent = UnsentNotices(deps.db)

    async def sweep(self) -> SweepResult:
        """One pass over every organization whose policy expires unused devices."""
        result = SweepResult()
        async with self.deps.db.unit_of_work() as uow:
            organizations = list(
                await uow.session.scalars(
                    select(Organization).where(
                        Organization.unused_notice_days.is_not(None),
                        Organization.unused_revoke_days.is_not(None),
                    )
                )
            )
        for organization in organizations:
            await self._sweep_organization(organization, result)
        return result

    async def _sweep_organization(self, organization: Organization, result: SweepResult) -> None:
        assert organization.unused_notice_days and organization.unused_revoke_days
        timeline = Timeline(organization.unused_notice_days, organization.unused_revoke_days)
        now = self.deps.clock.now()
        mails: list[tuple[EmailMessage, NoticeMark | None]] = []  # the digest has no mark
        due: list[Device] = []
        async with self.deps.db.unit_of_work() as uow:
            s = uow.session
            devices = list(await s.scalars(candidates(organization.id, now, timeline)))
            facts = await device_facts(s, [d.id for d in devices])
            for device in devices:
                notice_at = device.unused_notice_at
                if notice_at is not None and idle_since(device) > notice_at:
                    device.unused_notice_at = None  # used or kept since the notice
                elif notice_at is None:
                    if await claimed(
                        s,
                        Device,
                        device.id,
                        Device.unused_notice_at.is_(None),
                        unused_notice_at=now,
                    ):
                        message = await self._notice(s, facts[device.id], device, timeline, now)
                        mails.append((message, notice_mark("unused_device", facts[device.id])))
                        result.noticed.append(device.id)
                elif timeline.revoke_on(device) <= now:
                    due.append(device)
            expiring = [d for d in devices if d.unused_notice_at is not None and d not in due]
            digest = await self._digest(s, organization, expiring, facts, timeline, now)
            if digest is not None:
                mails.append((digest, None))
                result.digests.append(organization.id)
        for device in due:
            await self._revoke(device, facts[device.id], timeline)
            result.revoked.append(device.id)
        for message, mark in mails:
            if mark is None:
                await self.mailer.send(message)
            else:
                await send_notice(self.mailer, self.unsent, message, mark, now)

    async def _notice(
        self, s: AsyncSession, facts: DeviceFacts, device: Device, timeline: Timeline,
        now: datetime,
    ) -> EmailMessage:  # fmt: skip
        link = f"{self.public_url}/devices/keep/{keep_token(self.deps, device.id, now)}"
        to = await told_about(s, facts)
        revoke_on = timeline.revoke_on(device)
        record(
            s, POLICY_ACTOR, AuditTag.DEVICE_UNUSED_NOTICE, target_of(facts), now,
            idle_since=idle_since(device).isoformat(), revoke_on=revoke_on.isoformat(),
            to=", ".join(to),
        )  # fmt: skip
        return unused_notice(self.sender, to, facts, idle_since(device), revoke_on, link, now)

    async def _digest(
        self, s: AsyncSession, organization: Organization, expiring: list[Device],
        facts: dict[int, DeviceFacts], timeline: Timeline, now: datetime,
    ) -> EmailMessage | None:  # fmt: skip
        last = organization.unused_digest_at
        if not expiring or (last is not None and now - last < DIGEST_EVERY):
            return None
        not_recent = or_(
            Organization.unused_digest_at.is_(None),
            Organization.unused_digest_at <= now - DIGEST_EVERY,
        )
        if not await claimed(s, Organization, organization.id, not_recent, unused_digest_at=now):
            return None  # another node sent it
        rows = sorted(
            ((facts[d.id], idle_since(d), timeline.revoke_on(d)) for d in expiring),
            key=lambda row: row[2],
        )
        to = await managers_emails(s, organization.id)
        target = AuditTarget(organization_id=organization.id, label=organization.name)
        record(
            s, POLICY_ACTOR, AuditTag.ORGANIZATION_UNUSED_DIGEST, target, now,
            devices=[f"{f.device_name} ({f.address})" for f, _, _ in rows], to=", ".join(to),
        )  # fmt: skip
        return unused_digest(self.sender, to, organization.name, rows, now)

    async def _revoke(self, device: Device, facts: DeviceFacts, timeline: Timeline) -> None:
        """Through the device service: caches dropped and sessions ended like any
        revocation; the policy's own event says why."""
        await self.devices.revoke(POLICY_ACTOR, facts.address_id, device.id)
        async with self.deps.db.unit_of_work() as uow:
            record(
                uow.session, POLICY_ACTOR, AuditTag.DEVICE_EXPIRE_UNUSED, target_of(facts),
                self.deps.clock.now(), idle_since=idle_since(device).isoformat(),
                unused_revoke_days=timeline.revoke_days,
            )  # fmt: skip

    async def keep(self, token: str, ip: str | None) -> DeviceFacts:
        """The "keep it" link: the device counts as used now. Works once, until the
        device's revocation date."""
        device_id, stamp = read_keep_token(self.deps, token)
        expired = InvalidInput("link", "this link was already used or has expired")
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            s = uow.session
            device = await s.get(Device, device_id, with_for_update=True)
            notice_at = device.unused_notice_at if device else None
            if device is None or device.revoked_at is not None or notice_at is None:
                raise expired
            if int(notice_at.timestamp()) != stamp or idle_since(device) > notice_at:
                raise expired  # a newer notice, or used since (nothing left to keep)
            facts = (await device_facts(s, [device_id]))[device_id]
            organization = await s.get(Organization, facts.organization_id)
            if organization and organization.unused_notice_days and organization.unused_revoke_days:
                timeline = Timeline(
                    organization.unused_notice_days, organization.unused_revoke_days
                )
                if timeline.revoke_on(device) <= now:
                    raise expired
            device.kept_at, device.unused_notice_at = now, None
            actor = Actor(account_id=None, label="keep-it link", ip=ip)
            record(s, actor, AuditTag.DEVICE_KEEP, target_of(facts), now)
            return facts


async def claimed(
    s: AsyncSession, model: type[Device] | type[Organization], row_id: int,
    condition: ColumnElement[bool], **values: object,
) -> bool:  # fmt: skip
    """Set ``values`` if ``condition`` still holds: of several nodes, one sends."""
    result = await s.execute(update(model).where(model.id == row_id, condition).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def target_of(facts: DeviceFacts) -> AuditTarget:
    return AuditTarget(
        facts.organization_id,
        facts.address_id,
        facts.device_id,
        f"{facts.device_name} ({facts.address})",
    )


def candidates(organization_id: int, now: datetime, timeline: Timeline) -> Select[Device]:
    """Live devices of the organization that were noticed, or are idle past the notice."""
    cutoff = now - timedelta(days=timeline.notice_days)
    idle = and_(
        Device.created_at <= cutoff,
        or_(Device.last_used_at.is_(None), Device.last_used_at <= cutoff),
        or_(Device.kept_at.is_(None), Device.kept_at <= cutoff),
    )
    return (
        select(Device)
        .join(Address, Address.id == Device.address_id)
        .join(MailService, MailService.id == Address.mail_service_id)
        .where(MailService.organization_id == organization_id, Device.revoked_at.is_(None))
        .where(or_(Device.unused_notice_at.is_not(None), idle))
        .order_by(Device.id)
    )
