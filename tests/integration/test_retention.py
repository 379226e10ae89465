"""The tables that only grow are pruned by their retention, and nothing younger goes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from mailward.clock import FrozenClock
from mailward.db.models import AuditEvent, DeviceChange, Invitation, WebSession
from tests.support import World


async def rows(world: World, table: type) -> int:
    async with world.services.db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(table)) or 0)


async def old_invitation(world: World, clock: FrozenClock) -> None:
    address = await world.services.addresses.get(world.admin, world.address)
    async with world.services.db.unit_of_work() as uow:
        uow.session.add(
            Invitation(
                address_id=address.id,
                email="someone@corp.test",
                device_name="Phone",
                token_hash=b"\x01" * 32,
                created_by="admin",
                created_at=clock.now(),
                expires_at=clock.now() + timedelta(days=30),
            )
        )


async def test_pruning_keeps_what_is_younger_than_its_retention(
    world: World, clock: FrozenClock
) -> None:
    services = world.services
    for n in range(3):
        await services.devices.add(world.admin, world.address, f"Phone {n}")
    account_id = world.admin.account_id
    assert account_id is not None
    await services.web_sessions.start(account_id, True, "192.0.2.1", "test")
    await old_invitation(world, clock)
    pruning = services.retention_pruning()
    assert sum(vars(await pruning.run_once()).values()) == 0  # all young
    audit_before = await rows(world, AuditEvent)

    clock.advance(timedelta(days=61))  # sessions, invitation and changes are old now
    await services.devices.add(world.admin, world.address, "Laptop")  # a young change
    pruned = await pruning.run_once()
    assert pruned is not None and pruned.audit_events == 0
    assert pruned.web_sessions == 1 and pruned.invitations == 1
    assert pruned.device_changes >= 3
    assert await rows(world, DeviceChange) == 1  # the newest change stays

    clock.advance(timedelta(days=401))
    pruned = await pruning.run_once()
    assert pruned is not None and pruned.audit_events == audit_before + 1
    assert await rows(world, AuditEvent) == 0
    assert await rows(world, WebSession) == 0 and await rows(world, Invitation) == 0
    assert await rows(world, DeviceChange) == 1  # even when it is old itself
