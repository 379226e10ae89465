"""Security notices are wired once per node (``Services.send_security_notices``), not
once per web manager app: two nodes on one database, each reading the other's changes
from the change feed and each running web manager apps, send exactly one notice per
device change.

Before, every ``create_app`` subscribed the notices again (the tests' ``web_client``
builds an app per client, so a node with two apps sent each notice twice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mailward.auth.runtime import start_change_feed
from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.deps import DeviceChangeNotice
from mailward.settings import Settings
from mailward.web.app import create_app
from tests.support import World, free_port, open_services

PATIENCE = 10.0  # seconds for the other node's feed to read a change (it polls at 0.05 s)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A smarthost nobody listens on and no outbound worker: notices stay in the spool,
    which both nodes share (one data directory)."""
    update = {"smarthost": "127.0.0.1", "smarthost_port": free_port()}
    return settings.model_copy(update={**update, "device_change_poll_seconds": 0.05})


@pytest.fixture
async def other_node(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    node = await open_services(settings, clock)
    try:
        yield node
    finally:
        await node.close()


class Heard:
    """The changes a node's revocation subscribers heard, from here or elsewhere."""

    def __init__(self, node: Services) -> None:
        self.changes: set[int] = set()
        self.heard = asyncio.Event()
        node.events.subscribe_revocation(self.device_changed)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        self.changes.add(notice.change_id)
        self.heard.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(PATIENCE):
            while len(self.changes) < count:
                self.heard.clear()
                await self.heard.wait()


def notices_in_spool(node: Services, device: str) -> list[bytes]:
    spool = node.outbox.spool
    contents = [spool.content(entry) for entry in spool.entries()]
    return [c for c in contents if device.encode() in c.split(b"\n\n")[0]]


async def test_one_change_on_two_nodes_with_three_apps_makes_one_notice(
    world: World, other_node: Services
) -> None:
    here = world.services
    apps = [create_app(here), create_app(here), create_app(other_node)]
    heard_there = Heard(other_node)
    feeds = [await start_change_feed(node) for node in (here, other_node)]
    try:
        added = await here.devices.add(world.admin, world.address, "Front desk")
        await here.devices.revoke(world.admin, world.address, added.device.id)
        await heard_there.wait_for(2)  # the other node has read both changes
    finally:
        for feed in feeds:
            feed.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
    await here.events.close()  # background notices finish
    await other_node.events.close()
    subjects = [c.split(b"Subject: ")[1].split(b"\n")[0] for c in notices_in_spool(here, "Front")]
    assert sorted(b"created" in s for s in subjects) == [False, True], subjects
    assert len(subjects) == 2 and any(b"revoked" in s for s in subjects)
    assert all(app.state.assistant.mailer is app.state.assistant.services.mailer for app in apps)


async def test_a_change_made_on_the_other_node_is_told_by_that_node_only(
    world: World, other_node: Services
) -> None:
    here = world.services
    create_app(here)
    create_app(other_node)
    heard_here = Heard(here)
    feed = await start_change_feed(here)
    try:
        added = await other_node.devices.add(world.admin, world.address, "Laptop")
        await heard_here.wait_for(1)
    finally:
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)
    await here.events.close()
    await other_node.events.close()
    assert len(notices_in_spool(here, "Laptop")) == 1
    assert added.password.encode() not in b"".join(notices_in_spool(here, "Laptop"))


async def test_wiring_the_notices_again_changes_nothing(world: World) -> None:
    services = world.services
    services.send_security_notices()  # as `mailward serve` does before its app
    create_app(services)
    create_app(services)
    services.send_security_notices()
    await services.devices.add(world.admin, world.address, "Printer")
    await services.events.close()
    assert len(notices_in_spool(services, "Printer")) == 1
