"""Mail Services: one per domain, owned by an organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.actors import Actor
from mailward.core.audit import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.names import normalize_domain
from mailward.core.permissions import require_manager, require_member
from mailward.db.models import Address, MailService
from mailward.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class MailServiceView:
    id: int
    organization_id: int
    domain: str
    display_domain: str
    address_count: int
    created_at: datetime


def display_domain(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


async def get_mail_service(session: AsyncSession, actor: Actor, key: int | str) -> MailService:
    """By id or domain; another organization's Mail Service does not exist for the actor."""
    if isinstance(key, int) or key.isdigit():
        mail_service = await session.get(MailService, int(key))
    else:
        domain = normalize_domain(key)
        mail_service = await session.scalar(select(MailService).where(MailService.domain == domain))
    if mail_service is None:
        raise NotFound("mail service", key)
    await require_member(session, actor, mail_service.organization_id, "mail service", key)
    return mail_service


async def _view(session: AsyncSession, mail_service: MailService) -> MailServiceView:
    count = await session.scalar(
        select(func.count()).select_from(Address).where(Address.mail_service_id == mail_service.id)
    )
    return MailServiceView(
        id=mail_service.id,
        organization_id=mail_service.organization_id,
        domain=mail_service.domain,
        display_domain=display_domain(mail_service.domain),
        address_count=count or 0,
        created_at=mail_service.created_at,
    )


class MailServiceService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def create(self, actor: Actor, organization_id: int, domain: str) -> MailServiceView:
        domain = normalize_domain(domain)
        async with self.deps.db.unit_of_work() as uow:
            await require_manager(uow.session, actor, organization_id, "order a Mail Service")
            if await uow.session.scalar(select(MailService).where(MailService.domain == domain)):
                raise AlreadyExists("mail service", domain)
            now = self.deps.clock.now()
            mail_service = MailService(
                organization_id=organization_id, domain=domain, created_at=now
            )
            uow.session.add(mail_service)
            await uow.session.flush()
            target = AuditTarget(organization_id=organization_id, label=domain)
            record(uow.session, actor, AuditTag.MAIL_SERVICE_CREATE, target, now)
            return await _view(uow.session, mail_service)

    async def list(self, actor: Actor, organization_id: int) -> list[MailServiceView]:
        async with self.deps.db.unit_of_work() as uow:
            await require_member(
                uow.session, actor, organization_id, "organization", organization_id
            )
            rows = await uow.session.scalars(
                select(MailService)
                .where(MailService.organization_id == organization_id)
                .order_by(MailService.domain)
            )
            return [await _view(uow.session, m) for m in rows]

    async def get(self, actor: Actor, key: int | str) -> MailServiceView:
        async with self.deps.db.unit_of_work() as uow:
            return await _view(uow.session, await get_mail_service(uow.session, actor, key))

    async def is_local_domain(self, domain: str) -> bool:
        async with self.deps.db.unit_of_work() as uow:
            found = await uow.session.scalar(
                select(MailService.id).where(MailService.domain == normalize_domain(domain))
            )
            return found is not None
