"""Email addresses of a Mail Service, and the accounts that are their users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from mailward.core.access.permissions import Role, require_manager, require_member
from mailward.core.accounts.service import find_account, invited_account
from mailward.core.addresses.rule import PlacementRule
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.mailservices.service import VERIFIED_ONLY, get_mail_service
from mailward.core.names import clean_name, normalize_email, normalize_local_part, split_address
from mailward.core.pages import PageRequest, keyset_page
from mailward.db.models import Account, Address, AddressUser, MailService
from mailward.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class AddressView:
    id: int
    mail_service_id: int
    organization_id: int
    email: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True)
class AddressUserView:
    """A user of the address, or a person offered its use who has not answered
    (``pending``: nothing about their account is shown, not even whether it exists)."""

    email: str
    display_name: str
    state: str = GrantState.ACCEPTED


@dataclass(frozen=True)
class AddressPage:
    items: list[AddressView]
    total: int
    next_cursor: str | None = None
    previous_cursor: str | None = None


def _local_part(row: Any) -> tuple[str]:
    return (row[0].local_part,)


def address_view(address: Address, mail_service: MailService) -> AddressView:
    return AddressView(
        id=address.id,
        mail_service_id=mail_service.id,
        organization_id=mail_service.organization_id,
        email=address.email_at(mail_service),
        display_name=address.display_name,
        created_at=address.created_at,
    )


async def find_local_address(
    session: AsyncSession, email: str
) -> tuple[Address, MailService] | None:
    """The address behind ``local@domain``, with no permission check (mail servers,
    notifications). Only verified Mail Services have local addresses: mail for a pending
    domain goes where the domain's MX says, like any outside address."""
    local, domain = split_address(email)
    row = (
        await session.execute(
            select(Address, MailService)
            .join(MailService, MailService.id == Address.mail_service_id)
            .where(MailService.domain == domain, VERIFIED_ONLY, Address.local_part == local)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def _claimed_address(
    session: AsyncSession, actor: Actor, email: str
) -> tuple[Address, MailService] | None:
    """``local@domain`` in the actor's own pending claim of the domain, for its managers."""
    local, domain = split_address(email)
    mail_service = await get_mail_service(session, actor, domain)
    address = await session.scalar(
        select(Address).where(
            Address.mail_service_id == mail_service.id, Address.local_part == local
        )
    )
    return (address, mail_service) if address else None


async def is_address_user(session: AsyncSession, address_id: int, account_id: int | None) -> bool:
    if account_id is None:
        return False
    found = await session.scalar(
        select(AddressUser.id).where(
            AddressUser.address_id == address_id, AddressUser.account_id == account_id
        )
    )
    return found is not None


async def get_address(
    session: AsyncSession, actor: Actor, key: int | str
) -> tuple[Address, MailService, Role]:
    """An address by id or email, with the actor's role in its organization. A ``user``
    member reaches only the addresses they are a user of."""
    if isinstance(key, int) or key.isdigit():
        address = await session.get(Address, int(key))
        mail_service = await session.get(MailService, address.mail_service_id) if address else None
        found = (address, mail_service) if address and mail_service else None
    else:
        found = await find_local_address(session, key) or await _claimed_address(
            session, actor, key
        )
    if found is None:
        raise NotFound("address", key)
    address, mail_service = found
    role = await require_member(session, actor, mail_service.organization_id, "address", key)
    if role == Role.USER and not await is_address_user(session, address.id, actor.account_id):
        raise NotFound("address", key)
    return address, mail_service, role


class AddressService:
    def __init__(self, deps: CoreDeps, placement: PlacementRule | None = None) -> None:
        self.deps = deps
        self.placement = placement or PlacementRule()

    async def create(
        self, actor: Actor, mail_service_key: int | str, local_part: str, display_name: str = ""
    ) -> AddressView:
        local = normalize_local_part(local_part)
        name = clean_name(display_name, "display name", 200) if display_name.strip() else ""
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await get_mail_service(uow.session, actor, mail_service_key)
            await require_manager(
                uow.session, actor, mail_service.organization_id, "create addresses"
            )
            exists = await uow.session.scalar(
                select(Address.id).where(
                    Address.mail_service_id == mail_service.id, Address.local_part == local
                )
            )
            if exists:
                raise AlreadyExists("address", f"{local}@{mail_service.domain}")
            now = self.deps.clock.now()
            address = Address(
                mail_service_id=mail_service.id,
                local_part=local,
                display_name=name,
                created_at=now,
                mailbox_backend=await self.placement.place_new(uow.session),
            )
            uow.session.add(address)
            await uow.session.flush()
            view = address_view(address, mail_service)
            target = AuditTarget(mail_service.organization_id, address.id, None, view.email)
            record(uow.session, actor, AuditTag.ADDRESS_CREATE, target, now)
            return view

    async def create_by_email(
        self, actor: Actor, email: str, display_name: str = ""
    ) -> AddressView:
        local, domain = split_address(email)
        return await self.create(actor, domain, local, display_name)

    async def get(self, actor: Actor, key: int | str) -> AddressView:
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, key)
            return address_view(address, mail_service)

    async def page(
        self,
        actor: Actor,
        mail_service_key: int | str,
        search: str = "",
        cursor: str | None = None,
        per_page: int = 50,
    ) -> AddressPage:
        """The Mail Service's addresses in order (those the actor uses, for a ``user``),
        one keyset page at a time; ``search`` matches part of the address or name."""
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await get_mail_service(uow.session, actor, mail_service_key)
            role = await require_member(
                uow.session, actor, mail_service.organization_id, "mail service", mail_service_key
            )
            query = select(Address).where(Address.mail_service_id == mail_service.id)
            if search.strip():
                pattern = f"%{search.strip().lower()}%"
                query = query.where(
                    Address.local_part.like(pattern) | Address.display_name.ilike(pattern)
                )
            if role == Role.USER:
                query = query.join(AddressUser, AddressUser.address_id == Address.id).where(
                    AddressUser.account_id == actor.account_id
                )
            total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
            request = PageRequest(cursor, min(per_page, 200))
            rows = await keyset_page(uow.session, query, [Address.local_part], _local_part, request)
            found = rows.map(lambda row: address_view(row[0], mail_service))
            return AddressPage(found.items, total or 0, found.next_cursor, found.previous_cursor)

    async def users(self, actor: Actor, address_key: int | str) -> list[AddressUserView]:
        """The users, then the people offered the address who have not answered yet."""
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            rows = await uow.session.scalars(
                select(Account)
                .join(AddressUser, AddressUser.account_id == Account.id)
                .where(AddressUser.address_id == address.id)
                .order_by(Account.email)
            )
            users = [AddressUserView(a.email, a.display_name) for a in rows]
            offer = Offer(mail_service.organization_id, address_id=address.id)
            pending = await pending_people(uow.session, offer)
            return users + [AddressUserView(p.email, "", GrantState.PENDING) for p in pending]

    async def add_user(self, actor: Actor, address_key: int | str, email: str) -> AddressUserView:
        """Offer a person the use of the address; it takes effect when they accept (at
        once for the operator). A person with no account gets an ``invited`` one, which
        only proof of control of the email activates. The answer is the same whether or
        not they had an account."""
        email = normalize_email(email)
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "add users to addresses")
            now = self.deps.clock.now()
            account = await invited_account(uow.session, email, now)
            if await is_address_user(uow.session, address.id, account.id):
                raise AlreadyExists("address user", email)
            offer = Offer(org_id, address_id=address.id)
            if await pending_grant(uow.session, account.id, offer) is not None:
                raise AlreadyExists("pending invitation for", email)
            label = f"{email} on {address.email_at(mail_service)}"
            target = AuditTarget(org_id, address.id, None, label)
            state = await make_offer(uow.session, actor, account, offer, target, now)
            if state == GrantState.ACCEPTED:
                record(uow.session, actor, AuditTag.ADDRESS_USER_ADD, target, now)
            return AddressUserView(email, "", state)

    async def remove_user(self, actor: Actor, address_key: int | str, email: str) -> None:
        """Remove a user, or withdraw the offer made to a person (idempotent)."""
        email = normalize_email(email)
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "remove users from addresses")
            account = await find_account(uow.session, email)
            if account is None:
                return
            label = f"{email} on {address.email_at(mail_service)}"
            target = AuditTarget(org_id, address.id, None, label)
            now = self.deps.clock.now()
            link = await uow.session.scalar(
                select(AddressUser).where(
                    AddressUser.address_id == address.id, AddressUser.account_id == account.id
                )
            )
            if link is None:
                offer = Offer(org_id, address_id=address.id)
                await withdraw(uow.session, actor, account.id, offer, target, now)
                return
            await uow.session.delete(link)
            record(uow.session, actor, AuditTag.ADDRESS_USER_REMOVE, target, now)
