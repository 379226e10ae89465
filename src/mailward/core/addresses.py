"""Email addresses of a Mail Service, and the accounts that are their users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.accounts import find_account
from mailward.core.actors import Actor
from mailward.core.audit import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.mailservices import get_mail_service
from mailward.core.names import clean_name, normalize_email, normalize_local_part, split_address
from mailward.core.permissions import Role, require_manager, require_member
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
    account_id: int
    email: str
    display_name: str
    status: str


@dataclass(frozen=True)
class AddressPage:
    items: list[AddressView]
    total: int
    page: int
    per_page: int


def address_view(address: Address, mail_service: MailService) -> AddressView:
    return AddressView(
        id=address.id,
        mail_service_id=mail_service.id,
        organization_id=mail_service.organization_id,
        email=f"{address.local_part}@{mail_service.domain}",
        display_name=address.display_name,
        created_at=address.created_at,
    )


async def find_local_address(
    session: AsyncSession, email: str
) -> tuple[Address, MailService] | None:
    """The address behind ``local@domain``, with no permission check (mail servers)."""
    local, domain = split_address(email)
    row = (
        await session.execute(
            select(Address, MailService)
            .join(MailService, MailService.id == Address.mail_service_id)
            .where(MailService.domain == domain, Address.local_part == local)
        )
    ).first()
    return (row[0], row[1]) if row else None


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
        found = await find_local_address(session, key)
    if found is None:
        raise NotFound("address", key)
    address, mail_service = found
    role = await require_member(session, actor, mail_service.organization_id, "address", key)
    if role == Role.USER and not await is_address_user(session, address.id, actor.account_id):
        raise NotFound("address", key)
    return address, mail_service, role


class AddressService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

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
                mail_service_id=mail_service.id, local_part=local, display_name=name, created_at=now
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
        page: int = 1,
        per_page: int = 50,
    ) -> AddressPage:
        page, per_page = max(1, page), max(1, min(per_page, 200))
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
            rows = await uow.session.scalars(
                query.order_by(Address.local_part).limit(per_page).offset((page - 1) * per_page)
            )
            items = [address_view(a, mail_service) for a in rows]
            return AddressPage(items, total or 0, page, per_page)

    async def users(self, actor: Actor, address_key: int | str) -> list[AddressUserView]:
        async with self.deps.db.unit_of_work() as uow:
            address, _, _ = await get_address(uow.session, actor, address_key)
            rows = await uow.session.scalars(
                select(Account)
                .join(AddressUser, AddressUser.account_id == Account.id)
                .where(AddressUser.address_id == address.id)
                .order_by(Account.email)
            )
            return [AddressUserView(a.id, a.email, a.display_name, a.status) for a in rows]

    async def add_user(self, actor: Actor, address_key: int | str, email: str) -> AddressUserView:
        """Make an account a user of the address. A person with no account yet gets an
        ``invited`` account (they set its password when they accept)."""
        email = normalize_email(email)
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "add users to addresses")
            account = await find_account(uow.session, email)
            now = self.deps.clock.now()
            if account is None:
                account = Account(email=email, status="invited", created_at=now)
                uow.session.add(account)
                await uow.session.flush()
            if await is_address_user(uow.session, address.id, account.id):
                raise AlreadyExists("address user", email)
            uow.session.add(
                AddressUser(address_id=address.id, account_id=account.id, created_at=now)
            )
            label = f"{email} on {address.local_part}@{mail_service.domain}"
            target = AuditTarget(org_id, address.id, None, label)
            record(uow.session, actor, AuditTag.ADDRESS_USER_ADD, target, now)
            return AddressUserView(account.id, account.email, account.display_name, account.status)

    async def remove_user(self, actor: Actor, address_key: int | str, email: str) -> None:
        email = normalize_email(email)
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "remove users from addresses")
            account = await find_account(uow.session, email)
            link = None
            if account is not None:
                link = await uow.session.scalar(
                    select(AddressUser).where(
                        AddressUser.address_id == address.id, AddressUser.account_id == account.id
                    )
                )
            if link is None:
                return
            await uow.session.delete(link)
            label = f"{email} on {address.local_part}@{mail_service.domain}"
            target = AuditTarget(org_id, address.id, None, label)
            record(uow.session, actor, AuditTag.ADDRESS_USER_REMOVE, target, self.deps.clock.now())
