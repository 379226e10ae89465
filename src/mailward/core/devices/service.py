"""Devices: the per-device passwords of an address (DESIGN §1, §3).

A password exists in clear only in the :class:`NewDevicePassword` returned by the call
that made it. Each change is written to the ``device_changes`` feed in the same
transaction, so every process drops cached credentials and ends the device's sessions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import Role, require_manager
from mailward.core.accounts.service import find_account
from mailward.core.addresses.service import get_address, is_address_user
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps, DeviceChangeNotice
from mailward.core.devices.chosen_passwords import store_chosen_password
from mailward.core.devices.views import (
    PROTOCOLS,
    DeviceOptions,
    DeviceView,
    NewDevicePassword,
    device_view,
    parse_networks,
    parse_protocols,
)
from mailward.core.names import clean_name
from mailward.core.pages import Page, PageRequest, keyset_page
from mailward.core.passwords import (
    check_chosen_password,
    generate_password,
    is_suggestion,
    lookup_hash,
)
from mailward.db.engine import UnitOfWork
from mailward.db.models import Account, Address, Device, DeviceChange, MailService
from mailward.errors import AlreadyExists, Conflict, InvalidInput, NotFound

MAX_CHOSEN_PER_ADDRESS = 5

__all__ = [
    "MAX_CHOSEN_PER_ADDRESS",
    "PROTOCOLS",
    "DeviceOptions",
    "DeviceService",
    "DeviceView",
    "NewDevicePassword",
]


def _device_key(row: Any) -> tuple[int]:
    return (row[0].id,)


class DeviceService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    # -- reading ---------------------------------------------------------------

    async def list(
        self, actor: Actor, address_key: int | str, include_revoked: bool = False
    ) -> list[DeviceView]:
        """All devices for managers; a ``user`` sees only their own."""
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, role = await get_address(uow.session, actor, address_key)
            query = self._listed(actor, address, role)
            if not include_revoked:
                query = query.where(Device.revoked_at.is_(None))
            email = address.email_at(mail_service)
            now = self.deps.clock.now()
            rows = await uow.session.execute(query.order_by(Device.id))
            return [device_view(d, email, user, now) for d, user in rows]

    async def page(
        self, actor: Actor, address_key: int | str, revoked: bool | None, request: PageRequest
    ) -> Page[DeviceView]:
        """The address's devices in the order they were added, one keyset page at a
        time: the live ones, the revoked ones (``revoked``), or all (``None``)."""
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, role = await get_address(uow.session, actor, address_key)
            query = self._listed(actor, address, role)
            if revoked is not None:
                live = Device.revoked_at.is_(None)
                query = query.where(~live if revoked else live)
            rows = await keyset_page(uow.session, query, [Device.id], _device_key, request)
            email, now = address.email_at(mail_service), self.deps.clock.now()
            return rows.map(lambda row: device_view(row[0], email, row[1], now))

    @staticmethod
    def _listed(actor: Actor, address: Address, role: Role) -> Select[Device, str]:
        query = (
            select(Device, Account.email)
            .outerjoin(Account, Account.id == Device.user_account_id)
            .where(Device.address_id == address.id)
        )
        if role == Role.USER:
            query = query.where(Device.user_account_id == actor.account_id)
        return query

    async def get(self, actor: Actor, address_key: int | str, device_key: int | str) -> DeviceView:
        async with self.deps.db.unit_of_work() as uow:
            device, email, _ = await self._device(uow.session, actor, address_key, device_key)
            return await self._view(uow.session, device, email)

    # -- changing --------------------------------------------------------------

    async def add(
        self,
        actor: Actor,
        address_key: int | str,
        name: str,
        user_email: str | None = None,
        password: str | None = None,
        suggestion_proof: str | None = None,
        options: DeviceOptions | None = None,
    ) -> NewDevicePassword:
        """Add a device. Without ``password`` one is generated; a password equal to the
        server's suggestion (proved by ``suggestion_proof``) counts as generated."""
        name = clean_name(name, "device name")
        options = self._checked(options or DeviceOptions())
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            org_id = mail_service.organization_id
            await require_manager(uow.session, actor, org_id, "add devices")
            user_id = await self._user_id(uow.session, address, user_email)
            return await self.create_device(
                uow,
                actor,
                address,
                mail_service,
                name,
                user_id,
                password,
                suggestion_proof,
                options,
            )

    async def create_device(
        self,
        uow: UnitOfWork,
        actor: Actor,
        address: Address,
        mail_service: MailService,
        name: str,
        user_account_id: int | None,
        password: str | None,
        suggestion_proof: str | None,
        options: DeviceOptions,
    ) -> NewDevicePassword:
        """The shared step of adding a device, once rights are checked (also used by
        invitations, whose rights come from the invitation token)."""
        await self._name_is_free(uow.session, address.id, name)
        now = self.deps.clock.now()
        device = Device(
            address_id=address.id,
            name=name,
            user_account_id=user_account_id,
            created_by=actor.label,
            created_at=now,
            password_changed_at=now,
            expires_at=options.expires_at,
            allowed_protocols=",".join(options.protocols),
            allowed_networks=",".join(options.networks),
        )
        plaintext = await self._set_password(uow.session, device, password, suggestion_proof)
        uow.session.add(device)
        await uow.session.flush()
        email = address.email_at(mail_service)
        await self._changed(uow, device, "add")
        target = AuditTarget(
            mail_service.organization_id, address.id, device.id, f"{name} ({email})"
        )
        user_email = await self._email_of(uow.session, user_account_id)
        record(
            uow.session,
            actor,
            AuditTag.DEVICE_ADD,
            target,
            now,
            password_kind=device.password_kind,
            user=user_email,
        )
        view = device_view(device, email, user_email, now)
        return NewDevicePassword(view, plaintext)

    async def change_password(
        self,
        actor: Actor,
        address_key: int | str,
        device_key: int | str,
        password: str | None = None,
        suggestion_proof: str | None = None,
    ) -> NewDevicePassword:
        """Replace the password; the old one stops working at once."""
        async with self.deps.db.unit_of_work() as uow:
            device, email, org_id = await self._managed_device(
                uow.session, actor, address_key, device_key, "modify device passwords"
            )
            self._require_active(device)
            plaintext = await self._set_password(uow.session, device, password, suggestion_proof)
            device.password_changed_at = self.deps.clock.now()
            await self._changed(uow, device, "password")
            self._audit(
                uow.session,
                actor,
                AuditTag.DEVICE_PASSWORD_CHANGE,
                device,
                email,
                org_id,
                password_kind=device.password_kind,
            )
            return NewDevicePassword(await self._view(uow.session, device, email), plaintext)

    async def rename(
        self, actor: Actor, address_key: int | str, device_key: int | str, new_name: str
    ) -> DeviceView:
        new_name = clean_name(new_name, "device name")
        async with self.deps.db.unit_of_work() as uow:
            device, email, org_id = await self._managed_device(
                uow.session, actor, address_key, device_key, "rename devices"
            )
            old_name = device.name
            if new_name != old_name:
                await self._name_is_free(uow.session, device.address_id, new_name)
            device.name = new_name
            self._audit(
                uow.session, actor, AuditTag.DEVICE_RENAME, device, email, org_id, old_name=old_name
            )
            return await self._view(uow.session, device, email)

    async def set_options(
        self, actor: Actor, address_key: int | str, device_key: int | str, options: DeviceOptions
    ) -> DeviceView:
        options = self._checked(options, allow_past=True)
        async with self.deps.db.unit_of_work() as uow:
            device, email, org_id = await self._managed_device(
                uow.session, actor, address_key, device_key, "change device options"
            )
            self._require_active(device)
            device.expires_at = options.expires_at
            device.allowed_protocols = ",".join(options.protocols)
            device.allowed_networks = ",".join(options.networks)
            await self._changed(uow, device, "options")
            self._audit(
                uow.session,
                actor,
                AuditTag.DEVICE_OPTIONS_CHANGE,
                device,
                email,
                org_id,
                expires_at=options.expires_at.isoformat() if options.expires_at else None,
                protocols=list(options.protocols),
                networks=list(options.networks),
            )
            return await self._view(uow.session, device, email)

    async def revoke(
        self, actor: Actor, address_key: int | str, device_key: int | str
    ) -> DeviceView:
        """Revoke one device; every other device keeps working. Managers may revoke any
        device, a user their own. Revoking twice is not an error."""
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, role = await get_address(uow.session, actor, address_key)
            device = await self._find(uow.session, address.id, device_key)
            own = role == Role.USER and device.user_account_id == actor.account_id
            if not own:
                await require_manager(
                    uow.session, actor, mail_service.organization_id, "revoke devices"
                )
            email = address.email_at(mail_service)
            if device.revoked_at is None:
                device.revoked_at = self.deps.clock.now()
                device.revoked_by = actor.label
                await self._changed(uow, device, "revoke")
                self._audit(
                    uow.session,
                    actor,
                    AuditTag.DEVICE_REVOKE,
                    device,
                    email,
                    mail_service.organization_id,
                )
            return await self._view(uow.session, device, email)

    # -- helpers ---------------------------------------------------------------

    def _checked(self, options: DeviceOptions, allow_past: bool = False) -> DeviceOptions:
        expires_at = options.expires_at
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInput("expires_at", "needs a time zone")
            if not allow_past and expires_at <= self.deps.clock.now():
                raise InvalidInput("expires_at", "is in the past")
        return DeviceOptions(
            expires_at, parse_protocols(options.protocols), parse_networks(options.networks)
        )

    async def _set_password(
        self, session: AsyncSession, device: Device, password: str | None, proof: str | None
    ) -> str:
        keys = self.deps.keys
        if password is None or is_suggestion(keys, password, proof):
            plaintext = password or generate_password()
            lookup = lookup_hash(keys, device.address_id, plaintext)
            await self._suggestion_unused(session, lookup)
            device.password_kind = "generated"
            device.password_lookup = lookup
            device.password_key_id = keys.current_id
            device.password_hash = None
            return plaintext
        check_chosen_password(password)
        await self._chosen_slot_free(session, device)
        await store_chosen_password(session, self.deps, device, password)
        return password

    @staticmethod
    async def _suggestion_unused(session: AsyncSession, lookup: bytes) -> None:
        """A suggestion is good for one device: the same form sent twice (a double
        click, the back button) must not give two devices one password."""
        if await session.scalar(select(Device.id).where(Device.password_lookup == lookup)):
            raise Conflict(
                "this suggested password was already used for a device; every device gets "
                "its own password: generate a new suggestion and save again"
            )

    async def _chosen_slot_free(self, session: AsyncSession, device: Device) -> None:
        count = await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(
                Device.address_id == device.address_id,
                Device.revoked_at.is_(None),
                Device.password_kind == "chosen",
                Device.id != device.id,
            )
        )
        if (count or 0) >= MAX_CHOSEN_PER_ADDRESS:
            raise Conflict(
                f"an address may have at most {MAX_CHOSEN_PER_ADDRESS} devices with a chosen "
                "password; use the generated one (it is checked faster and is stronger)"
            )

    async def _name_is_free(self, session: AsyncSession, address_id: int, name: str) -> None:
        taken = await session.scalar(
            select(Device.id).where(
                Device.address_id == address_id, Device.name == name, Device.revoked_at.is_(None)
            )
        )
        if taken:
            raise AlreadyExists("device", name)

    async def _user_id(
        self, session: AsyncSession, address: Address, email: str | None
    ) -> int | None:
        if not email:
            return None
        account = await find_account(session, email)
        if account is None or not await is_address_user(session, address.id, account.id):
            raise InvalidInput("user", f"{email} is not a user of this address; add them first")
        return account.id

    async def _find(self, session: AsyncSession, address_id: int, key: int | str) -> Device:
        device = None
        if isinstance(key, int) or key.isdigit():
            device = await session.get(Device, int(key))
            if device is not None and device.address_id != address_id:
                device = None
        if device is None and isinstance(key, str):
            device = await session.scalar(
                select(Device).where(
                    Device.address_id == address_id,
                    Device.name == clean_name(key, "device"),
                    Device.revoked_at.is_(None),
                )
            )
        if device is None:
            raise NotFound("device", key)
        return device

    async def _device(
        self, session: AsyncSession, actor: Actor, address_key: int | str, device_key: int | str
    ) -> tuple[Device, str, int]:
        address, mail_service, role = await get_address(session, actor, address_key)
        device = await self._find(session, address.id, device_key)
        if role == Role.USER and device.user_account_id != actor.account_id:
            raise NotFound("device", device_key)
        return device, address.email_at(mail_service), mail_service.organization_id

    async def _managed_device(
        self,
        session: AsyncSession,
        actor: Actor,
        address_key: int | str,
        device_key: int | str,
        action: str,
    ) -> tuple[Device, str, int]:
        address, mail_service, _ = await get_address(session, actor, address_key)
        await require_manager(session, actor, mail_service.organization_id, action)
        device = await self._find(session, address.id, device_key)
        return device, address.email_at(mail_service), mail_service.organization_id

    @staticmethod
    def _require_active(device: Device) -> None:
        if device.revoked_at is not None:
            raise Conflict(f"device {device.name!r} is revoked; add a new device instead")

    async def _email_of(self, session: AsyncSession, account_id: int | None) -> str | None:
        if account_id is None:
            return None
        account = await session.get(Account, account_id)
        return account.email if account else None

    async def _view(self, session: AsyncSession, device: Device, email: str) -> DeviceView:
        user_email = await self._email_of(session, device.user_account_id)
        return device_view(device, email, user_email, self.deps.clock.now())

    async def _changed(self, uow: UnitOfWork, device: Device, kind: str) -> None:
        """Write the change to the feed in ``uow``'s transaction; once it committed,
        signal other processes and publish it here."""
        change = DeviceChange(
            device_id=device.id, address_id=device.address_id, kind=kind, at=self.deps.clock.now()
        )
        uow.session.add(change)

        async def publish() -> None:
            await self.deps.device_change_signal.announce()
            notice = DeviceChangeNotice(
                change.device_id, change.address_id, kind, change.id, change.at
            )
            await self.deps.device_events.device_changed(notice)

        uow.after_commit(publish)

    def _audit(
        self,
        session: AsyncSession,
        actor: Actor,
        tag: AuditTag,
        device: Device,
        email: str,
        org_id: int,
        **details: object,
    ) -> None:
        target = AuditTarget(org_id, device.address_id, device.id, f"{device.name} ({email})")
        record(session, actor, tag, target, self.deps.clock.now(), **details)
