"""Login history per device (issue 16): recorded off the login path, in batches, read
newest first, pruned per organization; networks remembered for the new-network notice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure
from mailward.clock import FrozenClock
from mailward.core.devices.service import DeviceOptions
from mailward.core.organizations.policy import PolicyChange
from mailward.db.models import DeviceLogin, DeviceNetwork
from tests.integration.auth_devices import OPERATOR, add_generated
from tests.support import World


async def logins_stored(world: World) -> int:
    async with world.services.db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(DeviceLogin)) or 0)


async def networks_of(world: World, device: int) -> dict[str, str]:
    async with world.services.db.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(DeviceNetwork.network, DeviceNetwork.notice).where(
                DeviceNetwork.device_id == device
            )
        )
        return {network: notice for network, notice in rows}


async def test_logins_are_kept_in_memory_until_the_flush_then_read_newest_first(
    auth: Authenticator, world: World, clock: FrozenClock
) -> None:
    device, password = await add_generated(world, "Phone")
    assert isinstance(
        await auth.authenticate(world.address, password, "imap", "198.51.100.7"),
        AuthenticatedDevice,
    )
    auth.note_client_name(device, "Thunderbird 128")
    clock.advance(timedelta(minutes=1))
    for _ in range(3):  # a client opening three connections: one row, count 3
        await auth.authenticate(world.address, password, "smtp", "2001:db8:1::5", "laptop.local")
    assert await logins_stored(world) == 0  # nothing written on the login path
    await auth.last_used.flush()
    history = await world.services.device_history.history(world.admin, world.address, "Phone")
    assert [(h.ip, h.protocol, h.client, h.result, h.count) for h in history] == [
        ("2001:db8:1::5", "smtp", "laptop.local", "ok", 3),
        ("198.51.100.7", "imap", "Thunderbird 128", "ok", 1),
    ]
    assert history[0].at == clock.now()


async def test_a_wrong_password_is_recorded_for_no_device_a_refused_right_one_is(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    await world.services.devices.set_options(
        OPERATOR, world.address, "Phone", DeviceOptions(None, ("imap",), ())
    )
    assert isinstance(
        await auth.authenticate(world.address, "not-the-password-at-all", "imap", "192.0.2.9"),
        AuthFailure,
    )
    assert isinstance(
        await auth.authenticate(world.address, password, "pop3", "192.0.2.9"), AuthFailure
    )
    await auth.last_used.flush()
    history = await world.services.device_history.history(OPERATOR, world.address, device)
    assert [(h.protocol, h.result) for h in history] == [("pop3", "wrong")]
    assert await networks_of(world, device) == {}  # a failed login makes no network known


async def test_history_is_pruned_after_the_organizations_retention(
    auth: Authenticator, world: World, clock: FrozenClock
) -> None:
    _, password = await add_generated(world, "Phone")
    await world.services.policies.set(world.admin, "Corp", PolicyChange(login_history_days=30))
    await auth.authenticate(world.address, password, "imap", "198.51.100.7")
    await auth.last_used.flush()
    clock.advance(timedelta(days=20))
    await auth.authenticate(world.address, password, "imap", "198.51.100.8")
    await auth.last_used.flush()
    assert await world.services.device_history.prune() == 0
    clock.advance(timedelta(days=11))  # the first login is 31 days old, the second 11
    assert await world.services.device_history.prune() == 1
    history = await world.services.device_history.history(world.admin, world.address, "Phone")
    assert [h.ip for h in history] == ["198.51.100.8"]


async def test_networks_are_remembered_per_24_and_48_the_first_without_notice(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    for ip in ("198.51.100.7", "198.51.100.200", "203.0.113.5", "2001:db8:1:2::1"):
        await auth.authenticate(world.address, password, "imap", ip)
        await auth.last_used.flush()
    assert await networks_of(world, device) == {
        "198.51.100.0/24": "first",
        "203.0.113.0/24": "pending",
        "2001:db8:1::/48": "pending",
    }


async def test_a_batch_naming_a_device_that_is_gone_is_dropped_not_retried_forever(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    await auth.authenticate(world.address, password, "imap", "198.51.100.7")
    history = auth.last_used.history
    history.note(10**9, history_time(world), "192.0.2.1", "imap", None, "ok")  # no device
    assert await history.flush() == 0 and history.pending == 0
    await auth.authenticate(world.address, password, "imap", "198.51.100.7")
    assert await history.flush() == 1
    logins = await world.services.device_history.history(world.admin, world.address, device)
    assert len(logins) == 1


def history_time(world: World) -> datetime:
    return world.services.clock.now()
