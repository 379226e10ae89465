"""Accounts: the people who sign in to the manager (DESIGN §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.names import clean_name, normalize_email
from mailward.core.passwords import MAX_LENGTH, check_strength
from mailward.core.rows import view_of
from mailward.db.models import Account
from mailward.errors import AlreadyExists, InvalidInput, NotFound

MIN_ACCOUNT_PASSWORD = 12


@dataclass(frozen=True)
class AccountView:
    id: int
    email: str
    display_name: str
    status: str
    totp_enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return view_of(cls, account, totp_enabled=account.totp_enabled_at is not None)


def check_account_password(password: str, email: str) -> None:
    if len(password) < MIN_ACCOUNT_PASSWORD:
        raise InvalidInput("password", f"must have at least {MIN_ACCOUNT_PASSWORD} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password", f"must have at most {MAX_LENGTH} characters")
    # Device-password strength rules; 12 characters suffice for a person's own sign-in,
    # which 2FA also protects.
    check_strength(password, [email])


async def find_account(session: AsyncSession, email: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.email == normalize_email(email)))


async def get_account(session: AsyncSession, email: str) -> Account:
    account = await find_account(session, email)
    if account is None:
        raise NotFound("account", email)
    return account


async def invited_account(session: AsyncSession, email: str, now: datetime) -> Account:
    """The account of ``email``, made ``invited`` (no password, cannot sign in) when
    there is none: only proof of control of the email activates it (``emailproof``)."""
    account = await find_account(session, email)
    if account is None:
        account = Account(email=normalize_email(email), status="invited", created_at=now)
        session.add(account)
        await session.flush()
    return account


class AccountService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def create(
        self, actor: Actor, email: str, password: str | None, display_name: str = ""
    ) -> AccountView:
        """Create an account; without a password it is ``invited`` and cannot sign in."""
        email = normalize_email(email)
        name = clean_name(display_name, "display name", 200) if display_name.strip() else ""
        password_hash = None
        if password is not None:
            check_account_password(password, email)
            password_hash = await self.deps.hasher.hash(password)
        async with self.deps.db.unit_of_work() as uow:
            if await find_account(uow.session, email):
                raise AlreadyExists("account", email)
            now = self.deps.clock.now()
            account = Account(
                email=email,
                display_name=name,
                password_hash=password_hash,
                status="active" if password_hash else "invited",
                created_at=now,
            )
            uow.session.add(account)
            await uow.session.flush()
            record(uow.session, actor, AuditTag.ACCOUNT_CREATE, AuditTarget(label=email), now)
            return AccountView.of(account)

    async def verify_password(self, email: str, password: str) -> AccountView | None:
        """The account if the password is right; unknown emails cost the same."""
        try:
            email = normalize_email(email)
        except InvalidInput:
            email = ""
        async with self.deps.db.unit_of_work() as uow:
            account = await find_account(uow.session, email) if email else None
        stored = account.password_hash if account and account.status == "active" else None
        if not await self.deps.hasher.verify(stored, password) or account is None:
            return None
        return AccountView.of(account)

    async def change_password(self, actor: Actor, account_id: int, new_password: str) -> None:
        async with self.deps.db.unit_of_work() as uow:
            account = await uow.session.get(Account, account_id)
            if account is None or (not actor.is_operator and actor.account_id != account_id):
                raise NotFound("account", account_id)
            check_account_password(new_password, account.email)
            account.password_hash = await self.deps.hasher.hash(new_password)
            account.status = "active"
            record(
                uow.session,
                actor,
                AuditTag.ACCOUNT_PASSWORD_CHANGE,
                AuditTarget(label=account.email),
                self.deps.clock.now(),
            )

    async def get(self, account_id: int) -> AccountView:
        async with self.deps.db.unit_of_work() as uow:
            account = await uow.session.get(Account, account_id)
            if account is None:
                raise NotFound("account", account_id)
            return AccountView.of(account)
