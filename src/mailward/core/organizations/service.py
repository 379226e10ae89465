"""Organizations and their members' roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.grants import (
    GrantState,
    Offer,
    make_offer,
    pending_grant,
    pending_people,
    withdraw,
)
from mailward.core.access.permissions import MANAGER_ROLES, Role, require_manager, require_member
from mailward.core.accounts.service import find_account, get_account, invited_account
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.names import clean_name, normalize_email
from mailward.db.models import Account, Membership, Organization
from mailward.errors import AlreadyExists, Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class OrganizationView:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class MemberView:
    """A member, or a person offered a role who has not answered (``pending``: then
    nothing about their account is shown, not even whether it exists)."""

    email: str
    display_name: str
    role: str
    state: str = GrantState.ACCEPTED


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput("role", f"{value!r} is not a role ({choices})") from None


async def find_organization(session: AsyncSession, actor: Actor, name_or_id: str) -> Organization:
    """An organization the actor belongs to, by id or exact name."""
    query = select(Organization).where(Organization.name == name_or_id)
    organization = await session.scalar(query)
    if organization is None and name_or_id.isdigit():
        organization = await session.get(Organization, int(name_or_id))
    if organization is None:
        raise NotFound("organization", name_or_id)
    await require_member(session, actor, organization.id, "organization", name_or_id)
    return organization


class OrganizationService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def create(
        self, actor: Actor, name: str, legal_representative: str | None
    ) -> OrganizationView:
        """Create an organization; the creator (or the named account) is its legal
        representative."""
        name = clean_name(name, "organization name", 200)
        async with self.deps.db.unit_of_work() as uow:
            if await uow.session.scalar(select(Organization).where(Organization.name == name)):
                raise AlreadyExists("organization", name)
            now = self.deps.clock.now()
            organization = Organization(name=name, created_at=now)
            uow.session.add(organization)
            await uow.session.flush()
            account_id: int | None = actor.account_id
            if legal_representative is not None:
                account_id = (await get_account(uow.session, legal_representative)).id
            if account_id is not None:
                uow.session.add(
                    Membership(
                        account_id=account_id,
                        organization_id=organization.id,
                        role=Role.LEGAL_REPRESENTATIVE.value,
                    )
                )
            target = AuditTarget(organization_id=organization.id, label=name)
            record(uow.session, actor, AuditTag.ORGANIZATION_CREATE, target, now)
            return OrganizationView(organization.id, name, Role.LEGAL_REPRESENTATIVE.value)

    async def list_for(self, actor: Actor) -> list[OrganizationView]:
        async with self.deps.db.unit_of_work() as uow:
            if actor.is_operator:
                rows = await uow.session.execute(select(Organization).order_by(Organization.name))
                return [
                    OrganizationView(o.id, o.name, Role.LEGAL_REPRESENTATIVE.value) for (o,) in rows
                ]
            member_rows = await uow.session.execute(
                select(Organization, Membership.role)
                .join(Membership, Membership.organization_id == Organization.id)
                .where(Membership.account_id == actor.account_id)
                .order_by(Organization.name)
            )
            return [OrganizationView(o.id, o.name, role) for o, role in member_rows]

    async def get(self, actor: Actor, organization_id: int) -> OrganizationView:
        async with self.deps.db.unit_of_work() as uow:
            organization = await uow.session.get(Organization, organization_id)
            if organization is None:
                raise NotFound("organization", organization_id)
            role = await require_member(
                uow.session, actor, organization_id, "organization", organization_id
            )
            return OrganizationView(organization.id, organization.name, role.value)

    async def resolve(self, actor: Actor, name_or_id: str) -> OrganizationView:
        async with self.deps.db.unit_of_work() as uow:
            organization = await find_organization(uow.session, actor, name_or_id)
        return await self.get(actor, organization.id)

    async def members(self, actor: Actor, organization_id: int) -> list[MemberView]:
        """The members, then the people offered a role who have not answered yet."""
        async with self.deps.db.unit_of_work() as uow:
            await require_member(
                uow.session, actor, organization_id, "organization", organization_id
            )
            rows = await uow.session.execute(
                select(Account, Membership.role)
                .join(Membership, Membership.account_id == Account.id)
                .where(Membership.organization_id == organization_id)
                .order_by(Account.email)
            )
            members = [MemberView(a.email, a.display_name, role) for a, role in rows]
            pending = await pending_people(uow.session, Offer(organization_id))
            return members + [
                MemberView(p.email, "", p.role or "", GrantState.PENDING) for p in pending
            ]

    async def add_member(
        self, actor: Actor, organization_id: int, email: str, role: str
    ) -> MemberView:
        """Offer the person a role. It takes effect when they accept it (at once for the
        operator). The answer is the same whether or not they have an account."""
        parsed = parse_role(role)
        email = normalize_email(email)
        async with self.deps.db.unit_of_work() as uow:
            await require_manager(uow.session, actor, organization_id, "add members")
            now = self.deps.clock.now()
            account = await invited_account(uow.session, email, now)
            if await self._membership(uow.session, organization_id, account.id) is not None:
                raise AlreadyExists("member", email)
            offer = Offer(organization_id, role=parsed.value)
            if await pending_grant(uow.session, account.id, offer) is not None:
                raise AlreadyExists("pending invitation for", email)
            target = AuditTarget(organization_id=organization_id, label=email)
            state = await make_offer(uow.session, actor, account, offer, target, now)
            if state == GrantState.ACCEPTED:
                record(uow.session, actor, AuditTag.MEMBER_ADD, target, now, role=parsed.value)
            return MemberView(email, "", parsed.value, state)

    async def set_role(self, actor: Actor, organization_id: int, email: str, role: str) -> None:
        parsed = parse_role(role)
        async with self.deps.db.unit_of_work() as uow:
            await require_manager(uow.session, actor, organization_id, "change members' roles")
            account = await find_account(uow.session, email)
            if account is None:
                raise NotFound("member", email)
            membership = await self._membership(uow.session, organization_id, account.id)
            if membership is None:
                await self._change_offer(uow.session, organization_id, account.id, email, parsed)
                return
            if parsed not in MANAGER_ROLES:
                await self._keep_a_manager(uow.session, organization_id, account.id)
            membership.role = parsed.value
            target = AuditTarget(organization_id=organization_id, label=account.email)
            now = self.deps.clock.now()
            record(uow.session, actor, AuditTag.MEMBER_ROLE_CHANGE, target, now, role=parsed.value)

    async def remove_member(self, actor: Actor, organization_id: int, email: str) -> None:
        """Remove a member, or withdraw the role offered to a person (idempotent)."""
        async with self.deps.db.unit_of_work() as uow:
            await require_manager(uow.session, actor, organization_id, "remove members")
            account = await find_account(uow.session, email)
            if account is None:
                return
            target = AuditTarget(organization_id=organization_id, label=account.email)
            now = self.deps.clock.now()
            membership = await self._membership(uow.session, organization_id, account.id)
            if membership is None:
                offer = Offer(organization_id)
                await withdraw(uow.session, actor, account.id, offer, target, now)
                return
            await self._keep_a_manager(uow.session, organization_id, account.id)
            await uow.session.delete(membership)
            record(uow.session, actor, AuditTag.MEMBER_REMOVE, target, now)

    @staticmethod
    async def _change_offer(
        session: AsyncSession, organization_id: int, account_id: int, email: str, role: Role
    ) -> None:
        """The role offered to a person who has not answered yet."""
        grant = await pending_grant(session, account_id, Offer(organization_id))
        if grant is None:
            raise NotFound("member", email)
        grant.role = role.value

    @staticmethod
    async def _membership(
        session: AsyncSession, organization_id: int, account_id: int
    ) -> Membership | None:
        return await session.scalar(
            select(Membership).where(
                Membership.organization_id == organization_id,
                Membership.account_id == account_id,
            )
        )

    @staticmethod
    async def _keep_a_manager(session: AsyncSession, organization_id: int, leaving: int) -> None:
        others = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.organization_id == organization_id,
                Membership.account_id != leaving,
                Membership.role.in_([r.value for r in MANAGER_ROLES]),
            )
        )
        if not others:
            raise Conflict(
                "an organization must keep at least one administrator or legal representative"
            )
