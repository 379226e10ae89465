"""Which Dovecot mailbox backend holds an address's mail, and moving it to another.

On one machine there are no backends and no placement. With backends, a new address
is placed by the rule (the least used backend, or a fixed one); an address made before
backends existed has no placement and lives on the first backend listed (the machine
that held every mailbox until then). A move mirrors the mailbox onto the target while
it is in use, switches the placement, copies what changed meanwhile (both ways), and
ends the sessions still open on the old backend, so that clients reconnect through the
proxy to the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.addresses.rule import PlacementRule
from mailward.core.addresses.service import get_address
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.db.models import Address, Device
from mailward.errors import InvalidInput, MailwardError


class MoveFailed(MailwardError):
    code = "move-failed"


class MailboxMover(Protocol):
    """Copies mailboxes between backends and ends sessions (doveadm, at the edge)."""

    async def mirror(self, email: str, source: str, target: str) -> None:
        """Make ``target``'s copy of the mailbox identical to ``source``'s (one way: what
        only ``target`` holds, such as an old copy left by an earlier move away, goes).
        Raises MoveFailed."""
        ...

    async def copy(self, email: str, source: str, target: str) -> None:
        """Bring ``target``'s copy of the mailbox up to date with ``source``'s, both in
        use (a two-way sync: nothing either side received is lost). Raises MoveFailed."""
        ...

    async def end_sessions(self, email: str, device_ids: Sequence[int], backend: str) -> None:
        """End every session of the address on ``backend``: those of each of its
        devices, named by id (a local part may hold ``*``, ``?`` or a leading ``-``, so
        its name is no safe mask). Raises MoveFailed."""
        ...


@dataclass(frozen=True)
class PlacementView:
    email: str
    backend: str | None


class PlacementService:
    def __init__(self, deps: CoreDeps, rule: PlacementRule) -> None:
        self.deps = deps
        self.rule = rule

    async def placement(self, actor: Actor, address_key: int | str) -> PlacementView:
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            return PlacementView(address.email_at(mail_service), self.rule.backend_of(address))

    async def move(
        self, actor: Actor, address_key: int | str, target: str, mover: MailboxMover
    ) -> PlacementView:
        """Move the address's mailbox to ``target`` while its clients use it."""
        source = await self._check_move(actor, address_key, target)
        email, old = source.email, str(source.backend)
        # Nothing reaches the target before the switch: what it holds is stale (deleted
        # since it last held the mailbox) and must not be merged back.
        await mover.mirror(email, old, target)
        devices = await self._switch(actor, address_key, target)
        try:
            await mover.copy(email, old, target)
            await mover.end_sessions(email, devices, old)
            # What a client changed on the old backend between the copy and its end.
            await mover.copy(email, old, target)
        except MoveFailed as error:
            raise MoveFailed(
                f"{error}; {email} is already placed on {target} and {old} keeps its copy: "
                f"repeat the doveadm sync from {old} to {target} and kick its old sessions"
            ) from error
        return PlacementView(email, target)

    async def _check_move(self, actor: Actor, address_key: int | str, target: str) -> PlacementView:
        if not self.rule.backends:
            raise InvalidInput("backend", "no mailbox backends are configured (one machine)")
        if target not in self.rule.backends:
            known = ", ".join(self.rule.backends)
            raise InvalidInput("backend", f"no backend {target!r} (configured: {known})")
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            await require_manager(
                uow.session, actor, mail_service.organization_id, "move mailboxes"
            )
            current = PlacementView(address.email_at(mail_service), self.rule.backend_of(address))
        if current.backend == target:
            raise InvalidInput("backend", f"{current.email} is already on {target}")
        return current

    async def _switch(self, actor: Actor, address_key: int | str, target: str) -> list[int]:
        """Place the address on ``target``; the ids of its devices (revoked ones too:
        a session may outlive its revocation's kick on this backend)."""
        async with self.deps.db.unit_of_work() as uow:
            address, mail_service, _ = await get_address(uow.session, actor, address_key)
            source = self.rule.backend_of(address)
            await uow.session.execute(
                update(Address).where(Address.id == address.id).values(mailbox_backend=target)
            )
            label = f"{address.email_at(mail_service)}: {source} -> {target}"
            target_of_event = AuditTarget(mail_service.organization_id, address.id, None, label)
            record(
                uow.session, actor, AuditTag.ADDRESS_MOVE, target_of_event, self.deps.clock.now()
            )
            devices = select(Device.id).where(Device.address_id == address.id)
            return list(await uow.session.scalars(devices.order_by(Device.id)))
