"""A person's own devices: the live devices made for them as their user, on whichever
address. What someone who manages nothing (an invitee) sees on their dashboard."""

from __future__ import annotations

from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.deps import CoreDeps
from mailward.core.devices.views import DeviceView, device_view
from mailward.db.models import Account, Address, Device, MailService


async def own_devices(deps: CoreDeps, actor: Actor) -> list[DeviceView]:
    """The actor's live devices, by address then in the order they were added."""
    if actor.account_id is None:
        return []
    async with deps.db.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(Device, Address, MailService, Account.email)
            .join(Address, Address.id == Device.address_id)
            .join(MailService, MailService.id == Address.mail_service_id)
            .join(Account, Account.id == Device.user_account_id)
            .where(Device.user_account_id == actor.account_id, Device.revoked_at.is_(None))
            .order_by(Address.id, Device.id)
        )
        now = deps.clock.now()
        return [device_view(d, a.email_at(m), email, now) for d, a, m, email in rows]
