"""A slow neighbour never delays a revocation: with Redis and the smarthost both
blackholed (they accept connections and never answer), revoking a device still ends its
IMAP session and refuses its password at once. Dropping cached credentials and ending
sessions touch neither; only the rate-limit counters do, and they fall back to memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailward.clock import FrozenClock
from mailward.core.deps import DeviceChangeNotice
from mailward.mail.outbox import send_security_notices
from mailward.settings import Settings
from tests.integration.mail_world import MailWorld
from tests.security.test_revoke_blackhole import Blackhole, assert_revoked_promptly
from tests.support import World, free_port, open_services


@pytest.fixture
async def holes() -> AsyncIterator[tuple[int, int]]:
    smarthost, redis = Blackhole(), Blackhole()
    ports = free_port(), free_port()
    await smarthost.start(ports[0])
    await redis.start(ports[1])
    yield ports
    await smarthost.stop()
    await redis.stop()


@pytest.fixture
def settings(settings: Settings, holes: tuple[int, int]) -> Settings:
    return settings.model_copy(
        update={
            "smarthost": "127.0.0.1",
            "smarthost_port": holes[0],
            "smarthost_starttls": False,
            "redis_url": f"redis://127.0.0.1:{holes[1]}/0",
        }
    )


async def test_a_revoke_ends_the_session_at_once_with_redis_and_smarthost_blackholed(
    mail: MailWorld,
) -> None:
    send_security_notices(mail.services)
    await mail.add_device(mail.world.address, "laptop")
    revoke = mail.services.devices.revoke(mail.world.admin, mail.world.address, "laptop")
    await assert_revoked_promptly(mail, "laptop", revoke)


async def test_changes_from_another_node_reach_revocation_past_a_hanging_subscriber(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    """Before, the change feed delivered one change at a time through every subscriber:
    a notice stuck on the smarthost held back the next node's revocation."""
    hub = world.services.events
    never = asyncio.Event()
    revoked: list[int] = []

    async def stuck(notice: DeviceChangeNotice) -> None:
        await never.wait()

    async def ends_access(notice: DeviceChangeNotice) -> None:
        revoked.append(notice.device_id)

    hub.subscribe(stuck)
    hub.subscribe_revocation(ends_access)
    feed = world.services.change_feed()
    await feed.start_position()
    other_node = await open_services(settings, clock)
    try:
        for name in ("one", "two"):
            added = await other_node.devices.add(world.admin, world.address, name)
            await other_node.devices.revoke(world.admin, world.address, added.device.id)
    finally:
        await other_node.close()
    async with asyncio.timeout(2):
        assert await feed.poll_once() == 4
    assert len(revoked) == 4
    await hub.close(grace=0.1)
