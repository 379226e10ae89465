"""The notice on a new network: the login path only notes networks
(:mod:`mailward.auth.history`); this sends the pending ones, in the background.

One message per device for all its pending networks, at most one per device every
``NOTICE_EVERY`` (networks found meanwhile wait and go together in the next one). The
device's first network (its setting up) and failed logins never make a notice. The
message links to the device's revocation, which asks for sign-in and the password
again (sudo) first."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select, update

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, record
from mailward.core.deps import CoreDeps
from mailward.core.devices.notices import (
    NetworkUse,
    device_facts,
    new_network_notice,
    notice_mark,
    told_about,
)
from mailward.core.devices.unused import target_of
from mailward.core.notifications import Mailer, NoticeMark, UnsentNotices, send_notice
from mailward.db.models import Device, DeviceNetwork

NOTICE_EVERY = timedelta(hours=1)
BATCH = 500
NOTICE_ACTOR = Actor(account_id=None, label="Mailward (new-network notice)")


def revoke_path(address_id: int, device_id: int) -> str:
    return f"/addresses/{address_id}/devices/{device_id}/revoke-confirm"


class NewNetworkNotices:
    def __init__(self, deps: CoreDeps, mailer: Mailer, sender: str, public_url: str) -> None:
        self.deps = deps
        self.mailer = mailer
        self.sender = sender
        self.public_url = public_url.rstrip("/")
        self.unsent = UnsentNotices(deps.db)

    async def send_pending(self) -> int:
        """Send what is due; returns the number of messages."""
        now = self.deps.clock.now()
        mails: list[tuple[EmailMessage, NoticeMark]] = []
        async with self.deps.db.unit_of_work() as uow:
            s = uow.session
            pending = list(
                await s.scalars(
                    select(DeviceNetwork)
                    .where(DeviceNetwork.notice == "pending")
                    .order_by(DeviceNetwork.first_seen_at, DeviceNetwork.id)
                    .limit(BATCH)
                )
            )
            by_device: dict[int, list[DeviceNetwork]] = defaultdict(list)
            for network in pending:
                by_device[network.device_id].append(network)
            if not by_device:
                return 0
            recent = set(
                await s.scalars(
                    select(DeviceNetwork.device_id).where(
                        DeviceNetwork.device_id.in_(by_device),
                        DeviceNetwork.notified_at > now - NOTICE_EVERY,
                    )
                )
            )
            revoked = set(
                await s.scalars(
                    select(Device.id).where(
                        Device.id.in_(by_device), Device.revoked_at.is_not(None)
                    )
                )
            )
            facts = await device_facts(s, by_device)
            for device_id, networks in by_device.items():
                if device_id in recent:
                    continue  # rate limit: they go with the next notice
                state = "dropped" if device_id in revoked else "sent"
                done = await s.execute(
                    update(DeviceNetwork)
                    .where(DeviceNetwork.id.in_([n.id for n in networks]))
                    .where(DeviceNetwork.notice == "pending")
                    .values(notice=state, notified_at=now)
                    .execution_options(synchronize_session=False)
                )
                if state == "dropped" or done.rowcount != len(networks):  # type: ignore[attr-defined]
                    continue
                f = facts[device_id]
                uses = [
                    NetworkUse(n.network, n.first_seen_at, n.ip, n.protocol, n.client)
                    for n in networks
                ]
                to = await told_about(s, f)
                record(
                    s, NOTICE_ACTOR, AuditTag.DEVICE_NEW_NETWORK, target_of(f), now,
                    networks=[u.network for u in uses], ips=[u.ip for u in uses], to=", ".join(to),
                )  # fmt: skip
                link = self.public_url + revoke_path(f.address_id, device_id)
                message = new_network_notice(self.sender, to, f, uses, link, now)
                mails.append((message, notice_mark("new_network", f)))
        for message, mark in mails:
            await send_notice(self.mailer, self.unsent, message, mark, now)
        return len(mails)
