"""Mail Services: one per domain, owned by the organization that proved it controls it.

An organization's managers *claim* a domain: the Mail Service stays pending until the
organization's DNS TXT record (core.domainproof) is seen by a check (core.domainchecks).
Several organizations may hold pending claims of one domain, so a squatted claim blocks
nobody; once one is verified the other claims are removed and new ones refused. The
operator (CLI) is trusted: what it creates is verified at once. Only verified Mail
Services receive mail, get invitations and notifications, and let devices log in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager, require_member, role_in
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.mailservices.dkim_keys import ensure_first_keys
from mailward.core.mailservices.domainproof import (
    VerificationRecord,
    new_token,
    next_check,
    verification_record,
)
from mailward.core.names import normalize_domain
from mailward.core.pages import MAX_LIMIT, Page, PageRequest, keyset_page
from mailward.db.models import Address, MailService, Membership
from mailward.errors import AlreadyExists, Conflict, NotFound

VERIFIED_ONLY = MailService.verified_at.is_not(None)


def _domain_key(row: Any) -> tuple[str, int]:
    return (row[0].domain, row[0].id)


class DomainTaken(Conflict):
    """Another organization already proved it controls the domain."""

    def __init__(self, domain: str) -> None:
        super().__init__(
            f"the domain {domain} is already in use on this server by another organization "
            "that proved it controls it; if the domain is yours, ask the server's operator"
        )
        self.domain = domain


@dataclass(frozen=True)
class MailServiceView:
    id: int
    organization_id: int
    domain: str
    display_domain: str
    address_count: int
    created_at: datetime
    state: str  # "pending" | "verified"
    verified_at: datetime | None
    record: VerificationRecord | None
    checked_at: datetime | None
    check_message: str


def display_domain(domain: str) -> str:
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


async def get_mail_service(session: AsyncSession, actor: Actor, key: int | str) -> MailService:
    """By id or domain; another organization's Mail Service does not exist for the actor.
    By domain, the verified Mail Service comes first, then the actor's own claim."""
    if isinstance(key, int) or key.isdigit():
        mail_service = await session.get(MailService, int(key))
        if mail_service is None:
            raise NotFound("mail service", key)
        await require_member(session, actor, mail_service.organization_id, "mail service", key)
        return mail_service
    claims = await session.scalars(
        select(MailService)
        .where(MailService.domain == normalize_domain(key))
        .order_by(MailService.verified_at.is_(None), MailService.id)
    )
    for claim in claims:
        if await role_in(session, actor, claim.organization_id) is not None:
            return claim
    raise NotFound("mail service", key)


async def address_counts(session: AsyncSession, ids: Iterable[int]) -> dict[int, int]:
    """The number of addresses of each Mail Service, in one grouped query."""
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Address.mail_service_id, func.count())
        .where(Address.mail_service_id.in_(ids))
        .group_by(Address.mail_service_id)
    )
    return {mail_service_id: count for mail_service_id, count in rows}


async def mail_service_view(
    session: AsyncSession, mail_service: MailService, count: int | None = None
) -> MailServiceView:
    """``count``: the addresses, when a list counted them for all its Mail Services."""
    if count is None:
        count = (await address_counts(session, [mail_service.id])).get(mail_service.id, 0)
    token = mail_service.verification_token
    return MailServiceView(
        id=mail_service.id,
        organization_id=mail_service.organization_id,
        domain=mail_service.domain,
        display_domain=display_domain(mail_service.domain),
        address_count=count,
        created_at=mail_service.created_at,
        state="verified" if mail_service.verified_at else "pending",
        verified_at=mail_service.verified_at,
        record=verification_record(mail_service.domain, token) if token else None,
        checked_at=mail_service.checked_at,
        check_message=mail_service.check_message,
    )


async def remove_rival_claims(
    session: AsyncSession, winner: MailService, actor: Actor, now: datetime
) -> None:
    """The domain is now ``winner``'s: the other organizations' pending claims go, with
    their addresses (which never received mail), each noted in its organization's log."""
    rivals = list(
        await session.scalars(
            select(MailService).where(
                MailService.domain == winner.domain,
                MailService.id != winner.id,
                MailService.verified_at.is_(None),
            )
        )
    )
    for rival in rivals:
        target = AuditTarget(organization_id=rival.organization_id, label=rival.domain)
        reason = "another organization proved it controls the domain"
        record(session, actor, AuditTag.MAIL_SERVICE_CLAIM_REMOVED, target, now, reason=reason)
    if rivals:
        await session.execute(delete(MailService).where(MailService.id.in_([r.id for r in rivals])))


async def _refuse_taken(session: AsyncSession, organization_id: int, domain: str) -> None:
    claims = await session.execute(
        select(MailService.organization_id, MailService.verified_at).where(
            MailService.domain == domain
        )
    )
    for owner, verified_at in claims:
        if owner == organization_id:
            raise AlreadyExists("mail service", domain)
        if verified_at is not None:
            raise DomainTaken(domain)


class MailServiceService:
    def __init__(self, deps: CoreDeps, check_interval_seconds: float = 300.0) -> None:
        self.deps = deps
        self.check_interval_seconds = check_interval_seconds

    async def create(self, actor: Actor, organization_id: int, domain: str) -> MailServiceView:
        """The operator's Mail Service is verified at once; a manager's is a pending
        claim with its own verification token."""
        domain = normalize_domain(domain)
        async with self.deps.db.unit_of_work() as uow:
            session = uow.session
            await require_manager(session, actor, organization_id, "order a Mail Service")
            await _refuse_taken(session, organization_id, domain)
            now = self.deps.clock.now()
            mail_service = MailService(
                organization_id=organization_id, domain=domain, created_at=now
            )
            if actor.is_operator:
                mail_service.verified_at = now
            else:
                mail_service.verification_token = new_token()
                mail_service.next_check_at = next_check(now, self.check_interval_seconds, 0)
            session.add(mail_service)
            await session.flush()
            if actor.is_operator:
                await remove_rival_claims(session, mail_service, actor, now)
                await ensure_first_keys(session, self.deps.keys, mail_service, now)
            tag = AuditTag.MAIL_SERVICE_CREATE if actor.is_operator else AuditTag.MAIL_SERVICE_CLAIM
            record(
                session, actor, tag, AuditTarget(organization_id=organization_id, label=domain), now
            )
            return await mail_service_view(session, mail_service)

    async def list(self, actor: Actor, organization_id: int) -> list[MailServiceView]:
        """All of them, page after page (the command line); lists page with :meth:`page`."""
        views: list[MailServiceView] = []
        request = PageRequest(limit=MAX_LIMIT)
        while True:
            page = await self.page(actor, organization_id, request)
            views += page.items
            if page.next_cursor is None:
                return views
            request = PageRequest(page.next_cursor, MAX_LIMIT)

    async def page(
        self, actor: Actor, organization_id: int, request: PageRequest
    ) -> Page[MailServiceView]:
        """The organization's Mail Services by domain, one keyset page at a time, their
        addresses counted in one query."""
        async with self.deps.db.unit_of_work() as uow:
            session = uow.session
            await require_member(session, actor, organization_id, "organization", organization_id)
            query = select(MailService).where(MailService.organization_id == organization_id)
            columns = [MailService.domain, MailService.id]
            rows = await keyset_page(session, query, columns, _domain_key, request)
            found = rows.map(lambda row: row[0])
            counts = await address_counts(session, [m.id for m in found.items])
            views = [await mail_service_view(session, m, counts.get(m.id, 0)) for m in found.items]
            return Page(views, found.next_cursor, found.previous_cursor)

    async def counts(self, actor: Actor) -> dict[int, int]:
        """How many Mail Services each of the actor's organizations has (one query)."""
        async with self.deps.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(Membership.organization_id, func.count(MailService.id))
                .outerjoin(MailService, MailService.organization_id == Membership.organization_id)
                .where(Membership.account_id == actor.account_id)
                .group_by(Membership.organization_id)
            )
            return {organization_id: count for organization_id, count in rows}

    async def get(self, actor: Actor, key: int | str) -> MailServiceView:
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await get_mail_service(uow.session, actor, key)
            return await mail_service_view(uow.session, mail_service)

    async def is_local_domain(self, domain: str) -> bool:
        """Mail for the domain is ours only once its Mail Service is verified."""
        async with self.deps.db.unit_of_work() as uow:
            found = await uow.session.scalar(
                select(MailService.id).where(
                    MailService.domain == normalize_domain(domain), VERIFIED_ONLY
                )
            )
            return found is not None
