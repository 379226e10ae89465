"""A device's login history (recorded by the login path, :mod:`mailward.auth.history`),
read for the manager, the API and the CLI, and pruned per organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from mailward.core.access.actors import Actor
from mailward.core.deps import CoreDeps
from mailward.core.devices.service import DeviceService
from mailward.db.models import Address, Device, DeviceLogin, MailService, Organization

HISTORY_LIMIT = 100


@dataclass(frozen=True)
class LoginView:
    at: datetime
    ip: str
    protocol: str
    client: str | None
    result: str  # ok | wrong (see mailward.auth.history for what is recorded)
    count: int


class DeviceHistoryService:
    def __init__(self, deps: CoreDeps, devices: DeviceService) -> None:
        self.deps = deps
        self.devices = devices

    async def history(
        self,
        actor: Actor,
        address_key: int | str,
        device_key: int | str,
        limit: int = HISTORY_LIMIT,
    ) -> list[LoginView]:
        """The device's last logins, newest first, for whoever may see the device."""
        device = await self.devices.get(actor, address_key, device_key)
        async with self.deps.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(DeviceLogin)
                .where(DeviceLogin.device_id == device.id)
                .order_by(DeviceLogin.at.desc(), DeviceLogin.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return [LoginView(r.at, r.ip, r.protocol, r.client, r.result, r.count) for r in rows]

    async def prune(self) -> int:
        """Delete the logins older than their organization's retention; one statement
        per distinct retention (a handful), each on the ``at`` index."""
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            s = uow.session
            retentions = set(await s.scalars(select(Organization.login_history_days).distinct()))
            deleted = 0
            for days in sorted(retentions):
                devices = (
                    select(Device.id)
                    .join(Address, Address.id == Device.address_id)
                    .join(MailService, MailService.id == Address.mail_service_id)
                    .join(Organization, Organization.id == MailService.organization_id)
                    .where(Organization.login_history_days == days)
                )
                result = await s.execute(
                    delete(DeviceLogin)
                    .where(DeviceLogin.at < now - timedelta(days=days))
                    .where(DeviceLogin.device_id.in_(devices))
                    .execution_options(synchronize_session=False)
                )
                deleted += result.rowcount or 0  # type: ignore[attr-defined]
            return deleted
