"""Consent (DESIGN §7): a role in an organization, or the use of an address, is offered
to a person and takes effect only when they, signed in, accept it.

An offer is a :class:`~mailward.db.models.Grant` row. Only an accepted offer writes the
``Membership`` or ``AddressUser`` row that every permission check reads, so a pending,
declined or withdrawn offer gives no right anywhere. The operator's CLI is trusted: its
grants take effect at once, like its verified domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.db.models import (
    Account,
    Address,
    AddressUser,
    Grant,
    MailService,
    Membership,
    Organization,
)
from mailward.errors import NotFound


class GrantState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Offer:
    """What is offered: a role in an organization, or the use of one of its addresses."""

    organization_id: int
    role: str | None = None
    address_id: int | None = None


@dataclass(frozen=True)
class GrantView:
    """An offer as its person sees it."""

    id: int
    organization: str
    role: str | None
    address: str | None
    offered_by: str
    offered_at: datetime
    state: str


@dataclass(frozen=True)
class PendingPerson:
    """An offer as the organization sees it: the email it was made to, nothing about
    that person's account."""

    email: str
    role: str | None
    offered_at: datetime


def _where(offer: Offer) -> list[ColumnElement[bool]]:
    address = (
        Grant.address_id == offer.address_id if offer.address_id else Grant.address_id.is_(None)
    )
    return [Grant.organization_id == offer.organization_id, address]


async def pending_grant(session: AsyncSession, account_id: int, offer: Offer) -> Grant | None:
    return await session.scalar(
        select(Grant).where(
            Grant.account_id == account_id, Grant.state == GrantState.PENDING, *_where(offer)
        )
    )


async def pending_people(session: AsyncSession, offer: Offer) -> list[PendingPerson]:
    """The people an organization (or one of its addresses) is waiting for."""
    rows = await session.execute(
        select(Account.email, Grant.role, Grant.offered_at)
        .join(Grant, Grant.account_id == Account.id)
        .where(Grant.state == GrantState.PENDING, *_where(offer))
        .order_by(Account.email)
    )
    return [PendingPerson(email, role, at) for email, role, at in rows]


async def take_effect(session: AsyncSession, account_id: int, offer: Offer, now: datetime) -> None:
    """Write the membership or address use (if not there already)."""
    if offer.address_id is not None:
        exists = await session.scalar(
            select(AddressUser.id).where(
                AddressUser.address_id == offer.address_id, AddressUser.account_id == account_id
            )
        )
        if exists is None:
            session.add(
                AddressUser(address_id=offer.address_id, account_id=account_id, created_at=now)
            )
        return
    exists = await session.scalar(
        select(Membership.id).where(
            Membership.organization_id == offer.organization_id,
            Membership.account_id == account_id,
        )
    )
    if exists is None and offer.role is not None:
        session.add(
            Membership(
                account_id=account_id, organization_id=offer.organization_id, role=offer.role
            )
        )


async def make_offer(
    session: AsyncSession,
    actor: Actor,
    account: Account,
    offer: Offer,
    target: AuditTarget,
    now: datetime,
) -> GrantState:
    """Offer ``offer`` to ``account``: pending, or in effect at once for the operator.
    The caller checked the actor's right and that nothing is pending or in effect."""
    if actor.is_operator:
        await take_effect(session, account.id, offer, now)
        return GrantState.ACCEPTED
    session.add(
        Grant(
            account_id=account.id,
            organization_id=offer.organization_id,
            address_id=offer.address_id,
            role=offer.role,
            state=GrantState.PENDING,
            offered_by=actor.label,
            offered_at=now,
        )
    )
    record(session, actor, AuditTag.GRANT_OFFER, target, now, role=offer.role)
    return GrantState.PENDING


async def withdraw(
    session: AsyncSession,
    actor: Actor,
    account_id: int,
    offer: Offer,
    target: AuditTarget,
    now: datetime,
) -> bool:
    """Withdraw a pending offer; False when there was none."""
    grant = await pending_grant(session, account_id, offer)
    if grant is None:
        return False
    grant.state, grant.answered_at = GrantState.WITHDRAWN, now
    record(session, actor, AuditTag.GRANT_WITHDRAW, target, now, role=grant.role)
    return True


def _view_query() -> Select[Grant, str, str, str]:
    return (
        select(Grant, Organization.name, Address.local_part, MailService.domain)
        .join(Organization, Organization.id == Grant.organization_id)
        .outerjoin(Address, Address.id == Grant.address_id)
        .outerjoin(MailService, MailService.id == Address.mail_service_id)
    )


def _view(grant: Grant, organization: str, local: str | None, domain: str | None) -> GrantView:
    address = f"{local}@{domain}" if local and domain else None
    return GrantView(
        grant.id, organization, grant.role, address, grant.offered_by, grant.offered_at,
        grant.state,
    )  # fmt: skip


class GrantService:
    """The person's side: the offers waiting for them, accepted or declined by them."""

    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def pending_for(self, actor: Actor) -> list[GrantView]:
        async with self.deps.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                _view_query()
                .where(Grant.account_id == actor.account_id, Grant.state == GrantState.PENDING)
                .order_by(Grant.offered_at, Grant.id)
            )
            return [_view(*row) for row in rows]

    async def accept(self, actor: Actor, grant_id: int) -> GrantView:
        """The offer takes effect: the person becomes a member or an address's user."""
        return await self._answer(actor, grant_id, GrantState.ACCEPTED)

    async def decline(self, actor: Actor, grant_id: int) -> GrantView:
        return await self._answer(actor, grant_id, GrantState.DECLINED)

    async def _answer(self, actor: Actor, grant_id: int, state: GrantState) -> GrantView:
        async with self.deps.db.unit_of_work() as uow:
            row = (await uow.session.execute(_view_query().where(Grant.id == grant_id))).first()
            grant = row[0] if row else None
            if grant is None or actor.account_id is None or grant.account_id != actor.account_id:
                raise NotFound("invitation", grant_id)
            if grant.state != GrantState.PENDING:
                raise NotFound("pending invitation", grant_id)
            now = self.deps.clock.now()
            offer = Offer(grant.organization_id, grant.role, grant.address_id)
            if state == GrantState.ACCEPTED:
                await take_effect(uow.session, grant.account_id, offer, now)
            grant.state, grant.answered_at = state, now
            tag = AuditTag.GRANT_ACCEPT if state == GrantState.ACCEPTED else AuditTag.GRANT_DECLINE
            view = _view(grant, row[1], row[2], row[3])  # type: ignore[index]
            label = f"{actor.label}: {view.address or view.role} ({view.organization})"
            target = AuditTarget(grant.organization_id, grant.address_id, None, label)
            record(uow.session, actor, tag, target, now, role=grant.role)
            return view
