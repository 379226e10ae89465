"""Invitations: the setup assistant an administrator sends to a user of an address
(DESIGN §1 step 8).

The link carries a random token (256 bits); the database keeps only its keyed hash.
A link is valid 30 days and works once: redeeming it creates the device through the
same step as *Add a device* and marks the invitation used in one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row, Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.grants import GrantState, Offer, pending_grant, take_effect
from mailward.core.access.permissions import managers_of, require_manager
from mailward.core.accounts.service import find_account
from mailward.core.addresses.service import get_address, is_address_user
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.devices.service import DeviceOptions, DeviceService, NewDevicePassword
from mailward.core.names import clean_name
from mailward.core.pages import Page, PageRequest, id_key, keyset_page
from mailward.db.engine import UnitOfWork
from mailward.db.models import Account, Address, Invitation, MailService, Organization
from mailward.errors import Conflict, InvalidInput, MailwardError, NotFound

__all__ = [
    "INVITATION_LIFETIME",
    "InvitationForSomeoneElse",
    "InvitationService",
    "InvitationUnusable",
    "InvitationView",
    "NewInvitation",
]

INVITATION_LIFETIME = timedelta(days=30)
TOKEN_PURPOSE = "invitation-token"
TOKEN_BYTES = 32  # 256 bits from the OS's CSPRNG


@dataclass(frozen=True)
class InvitationView:
    """An invitation without its token."""

    id: int
    address_id: int
    address: str
    organization_id: int
    organization: str
    email: str
    device_name: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    cancelled_at: datetime | None
    device_id: int | None
    status: str  # pending | used | cancelled | expired


@dataclass(frozen=True)
class NewInvitation:
    """The one response that carries the link's token in clear."""

    invitation: InvitationView
    token: str = field(repr=False)

    def link(self, public_url: str) -> str:
        return invitation_link(public_url, self.token)


def invitation_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/invite/{token}"


def invitation_status(invitation: Invitation, now: datetime) -> str:
    if invitation.used_at is not None:
        return "used"
    if invitation.cancelled_at is not None:
        return "cancelled"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


class InvitationUnusable(MailwardError):
    """The link cannot be used (any more). Says what to ask the administrator for."""

    code = "invitation-unusable"

    def __init__(
        self,
        reason: str,
        address: str | None = None,
        organization: str | None = None,
        who_can: list[str] | None = None,
        expired_at: datetime | None = None,
    ) -> None:
        self.reason = reason  # unknown | used | cancelled | expired
        self.address = address
        self.organization = organization
        self.who_can = who_can or []
        self.expired_at = expired_at
        super().__init__(self.explanation)

    @property
    def explanation(self) -> str:
        what = {
            "used": "has already been used: each setup link works once",
            "cancelled": "was cancelled by an administrator",
            "expired": "has expired: setup links are valid for 30 days",
        }.get(self.reason, "is not valid: it may be mistyped or have been replaced by a newer one")
        where = f" for {self.address}" if self.address else ""
        org = f" of {self.organization}" if self.organization else ""
        who = f" ({', '.join(self.who_can)})" if self.who_can else ""
        return (
            f"This setup link{where} {what}. Ask an administrator{org}{who} to send you a "
            "new setup assistant for your device, or to generate a device password for you."
        )


class InvitationForSomeoneElse(MailwardError):
    """A different account is signed in than the one invited."""

    code = "invitation-for-someone-else"

    def __init__(self, invited_email: str) -> None:
        super().__init__(
            f"this setup link was sent to {invited_email}; sign out and sign in as "
            f"{invited_email} to use it"
        )
        self.invited_email = invited_email


@dataclass(frozen=True)
class _Row:
    invitation: Invitation
    address: Address
    mail_service: MailService
    organization: Organization
    account: Account

    @property
    def email(self) -> str:
        return self.address.email_at(self.mail_service)

    def view(self, now: datetime) -> InvitationView:
        inv = self.invitation
        return InvitationView(
            id=inv.id,
            address_id=inv.address_id,
            address=self.email,
            organization_id=self.organization.id,
            organization=self.organization.name,
            email=inv.email,
            device_name=inv.device_name,
            created_by=inv.created_by,
            created_at=inv.created_at,
            expires_at=inv.expires_at,
            used_at=inv.used_at,
            cancelled_at=inv.cancelled_at,
            device_id=inv.device_id,
            status=invitation_status(inv, now),
        )

    def target(self) -> AuditTarget:
        label = f"{self.invitation.device_name} for {self.invitation.email} ({self.email})"
        return AuditTarget(self.organization.id, self.address.id, None, label)


def _rows_query() -> Select[Invitation, Address, MailService, Organization, Account]:
    return (
        select(Invitation, Address, MailService, Organization, Account)
        .join(Address, Address.id == Invitation.address_id)
        .join(MailService, MailService.id == Address.mail_service_id)
        .join(Organization, Organization.id == MailService.organization_id)
        .join(Account, Account.id == Invitation.account_id)
    )


def _row_of(r: Row[Invitation, Address, MailService, Organization, Account]) -> _Row:
    return _Row(r[0], r[1], r[2], r[3], r[4])


class InvitationService:
    def __init__(self, deps: CoreDeps, devices: DeviceService) -> None:
        self.deps = deps
        self.devices = devices

    # -- the administrator's side ------------------------------------------------

    async def create(
        self, actor: Actor, address_key: int | str, user_email: str, device_name: str
    ) -> NewInvitation:
        """Invite a user of the address to obtain a password for one device."""
        name = clean_name(device_name, "device name")
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "send setup assistants")
            account = await self._address_user(uow.session, address, org_id, user_email)
            token, token_hash = self._new_token()
            now = self.deps.clock.now()
            invitation = Invitation(
                address_id=address.id,
                account_id=account.id,
                email=account.email,
                device_name=name,
                token_hash=token_hash,
                created_by=actor.label,
                created_at=now,
                expires_at=now + INVITATION_LIFETIME,
            )
            uow.session.add(invitation)
            await uow.session.flush()
            row = await self._row(uow.session, invitation.id)
            record(uow.session, actor, AuditTag.INVITATION_CREATE, row.target(), now)
            return NewInvitation(row.view(now), token)

    async def list_pending(self, actor: Actor, address_key: int | str) -> list[InvitationView]:
        async with self.deps.db.unit_of_work() as uow:
            query = await self._pending(uow.session, actor, address_key)
            rows = await uow.session.execute(query.order_by(Invitation.created_at, Invitation.id))
            now = self.deps.clock.now()
            return [_row_of(r).view(now) for r in rows]

    async def page_pending(
        self, actor: Actor, address_key: int | str, request: PageRequest
    ) -> Page[InvitationView]:
        """The pending invitations in the order they were made, one keyset page at a time."""
        async with self.deps.db.unit_of_work() as uow:
            query = await self._pending(uow.session, actor, address_key)
            rows = await keyset_page(uow.session, query, [Invitation.id], id_key, request)
            now = self.deps.clock.now()
            return rows.map(lambda r: _row_of(r).view(now))

    async def _pending(
        self, session: AsyncSession, actor: Actor, address_key: int | str
    ) -> Select[Invitation, Address, MailService, Organization, Account]:
        """The address's invitations not used, cancelled or expired, for its managers."""
        address, mail_service, _ = await get_address(session, actor, address_key)
        org_id = mail_service.organization_id
        await require_manager(session, actor, org_id, "see setup assistants")
        return _rows_query().where(
            Invitation.address_id == address.id,
            Invitation.used_at.is_(None),
            Invitation.cancelled_at.is_(None),
            Invitation.expires_at > self.deps.clock.now(),
        )

    async def cancel(
        self, actor: Actor, address_key: int | str, invitation_id: int
    ) -> InvitationView:
        async with self.deps.db.unit_of_work() as uow:
            row = await self._managed(uow.session, actor, address_key, invitation_id, "cancel")
            now = self.deps.clock.now()
            if row.invitation.used_at is None and row.invitation.cancelled_at is None:
                row.invitation.cancelled_at = now
                record(uow.session, actor, AuditTag.INVITATION_CANCEL, row.target(), now)
            return row.view(now)

    async def resend(
        self, actor: Actor, address_key: int | str, invitation_id: int
    ) -> NewInvitation:
        """A new link, valid 30 days from now; the previous link stops working."""
        async with self.deps.db.unit_of_work() as uow:
            row = await self._managed(uow.session, actor, address_key, invitation_id, "re-send")
            inv = row.invitation
            if inv.used_at is not None or inv.cancelled_at is not None:
                raise Conflict("this setup assistant was already used or cancelled; send a new one")
            token, inv.token_hash = self._new_token()
            now = self.deps.clock.now()
            inv.created_at, inv.expires_at = now, now + INVITATION_LIFETIME
            record(uow.session, actor, AuditTag.INVITATION_CREATE, row.target(), now, resent=True)
            return NewInvitation(row.view(now), token)

    # -- the invited user's side ---------------------------------------------------

    async def open(self, token: str) -> InvitationView:
        """The invitation behind a link, if it can still be used."""
        async with self.deps.db.unit_of_work() as uow:
            row = await self._usable(uow.session, token)
            return row.view(self.deps.clock.now())

    async def redeem(
        self,
        actor: Actor,
        token: str,
        password: str | None = None,
        suggestion_proof: str | None = None,
    ) -> NewDevicePassword:
        """Use the link: the invited account gets its device password, once."""
        async with self.deps.db.unit_of_work() as uow:
            row = await self._usable(uow.session, token)
            if actor.account_id != row.account.id:
                raise InvitationForSomeoneElse(row.invitation.email)
            await self._consume(uow, row)
            await self._accept_address(uow.session, row)
            created = await self.devices.create_device(
                uow,
                actor,
                row.address,
                row.mail_service,
                row.invitation.device_name,
                row.account.id,
                password,
                suggestion_proof,
                DeviceOptions(),
            )
            row.invitation.device_id = created.device.id
            now = self.deps.clock.now()
            record(
                uow.session, actor, AuditTag.INVITATION_USE, row.target(), now,
                device_id=created.device.id,
            )  # fmt: skip
            return created

    # -- helpers -------------------------------------------------------------------

    def _new_token(self) -> tuple[str, bytes]:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return token, self.deps.keys.mac(TOKEN_PURPOSE, token.encode())

    def _hashes(self, token: str) -> list[bytes]:
        """The token's hash under every key of the ring, so rotation keeps links valid."""
        keys = self.deps.keys
        return [keys.mac(TOKEN_PURPOSE, token.encode(), key_id=k) for k in keys.keys]

    async def _row(self, session: AsyncSession, invitation_id: int) -> _Row:
        found = (await session.execute(_rows_query().where(Invitation.id == invitation_id))).first()
        if found is None:
            raise NotFound("invitation", invitation_id)
        return _row_of(found)

    async def _usable(self, session: AsyncSession, token: str) -> _Row:
        if not 20 <= len(token) <= 100:
            raise InvitationUnusable("unknown")
        query = _rows_query().where(Invitation.token_hash.in_(self._hashes(token)))
        found = (await session.execute(query)).first()
        if found is None:
            raise InvitationUnusable("unknown")
        row = _row_of(found)
        status = invitation_status(row.invitation, self.deps.clock.now())
        if status != "pending":
            who = await managers_of(session, row.organization.id)
            raise InvitationUnusable(
                status, row.email, row.organization.name, who, row.invitation.expires_at
            )
        return row

    async def _consume(self, uow: UnitOfWork, row: _Row) -> None:
        """Mark used with a guarded UPDATE: of two simultaneous redemptions, one wins."""
        now = self.deps.clock.now()
        result = await uow.session.execute(
            update(Invitation)
            .where(
                Invitation.id == row.invitation.id,
                Invitation.used_at.is_(None),
                Invitation.cancelled_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise InvitationUnusable("used", row.email, row.organization.name)
        row.invitation.used_at = now

    async def _managed(
        self,
        session: AsyncSession,
        actor: Actor,
        address_key: int | str,
        invitation_id: int,
        verb: str,
    ) -> _Row:
        address, mail_service, _ = await get_address(session, actor, address_key)
        org_id = mail_service.organization_id
        await require_manager(session, actor, org_id, f"{verb} setup assistants")
        row = await self._row(session, invitation_id)
        if row.address.id != address.id:
            raise NotFound("invitation", invitation_id)
        return row

    async def _address_user(
        self, session: AsyncSession, address: Address, org_id: int, email: str
    ) -> Account:
        """A user of the address, or a person offered its use who has not answered."""
        account = await find_account(session, email) if email.strip() else None
        offer = Offer(org_id, address_id=address.id)
        if account is not None and (
            await is_address_user(session, address.id, account.id)
            or await pending_grant(session, account.id, offer) is not None
        ):
            return account
        raise InvalidInput("user", f"{email or 'nobody'} is not a user of this address; add them")

    async def _accept_address(self, session: AsyncSession, row: _Row) -> None:
        """Using the link, signed in as the invited person, accepts the address."""
        offer = Offer(row.organization.id, address_id=row.address.id)
        grant = await pending_grant(session, row.account.id, offer)
        if grant is None:
            return
        now = self.deps.clock.now()
        await take_effect(session, row.account.id, offer, now)
        grant.state, grant.answered_at = GrantState.ACCEPTED, now
        actor = Actor(row.account.id, row.account.email)
        target = AuditTarget(row.organization.id, row.address.id, None, row.email)
        record(session, actor, AuditTag.GRANT_ACCEPT, target, now, via="setup assistant")
