"""Who may do what. Checked inside the use cases, never in the edges.

Administrators and legal representatives manage their organization. A ``user`` manages
nothing, but sees and revokes their own devices. An object of an organization the actor
does not belong to is reported as not found, whatever id was passed.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.db.models import Account, Membership, Organization
from mailward.errors import NotAllowed, NotFound


class Role(StrEnum):
    LEGAL_REPRESENTATIVE = "legal_representative"
    ADMINISTRATOR = "administrator"
    USER = "user"


MANAGER_ROLES = frozenset({Role.LEGAL_REPRESENTATIVE, Role.ADMINISTRATOR})


async def role_in(session: AsyncSession, actor: Actor, organization_id: int) -> Role | None:
    if actor.organization_id is not None and actor.organization_id != organization_id:
        return None
    if actor.is_operator:
        return Role.LEGAL_REPRESENTATIVE
    role = await session.scalar(
        select(Membership.role).where(
            Membership.account_id == actor.account_id,
            Membership.organization_id == organization_id,
        )
    )
    return Role(role) if role else None


async def managers_of(session: AsyncSession, organization_id: int) -> list[str]:
    """Names (and emails) of those who can manage the organization, for explanations."""
    rows = await session.execute(
        select(Account.display_name, Account.email)
        .join(Membership, Membership.account_id == Account.id)
        .where(
            Membership.organization_id == organization_id,
            Membership.role.in_([r.value for r in MANAGER_ROLES]),
        )
        .order_by(Account.email)
    )
    return [f"{name} <{email}>" if name else email for name, email in rows]


async def require_member(
    session: AsyncSession, actor: Actor, organization_id: int, kind: str, key: object
) -> Role:
    """The actor's role; an organization they are not in does not exist for them."""
    role = await role_in(session, actor, organization_id)
    if role is None:
        raise NotFound(kind, key)
    return role


async def require_manager(
    session: AsyncSession,
    actor: Actor,
    organization_id: int,
    action: str,
    kind: str = "organization",
    key: object = "",
) -> None:
    role = await require_member(session, actor, organization_id, kind, key)
    if role in MANAGER_ROLES:
        return
    organization = await session.get(Organization, organization_id)
    raise NotAllowed(
        action=action,
        organization=organization.name if organization else None,
        who_can=await managers_of(session, organization_id),
    )
