"""The Devices tab of an address says what the address has."""

from __future__ import annotations

from mailward.clock import FrozenClock
from tests.support import World
from tests.web_support import signed_in_admin_at


async def test_an_address_with_only_revoked_devices_is_not_said_to_have_none(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    made = await world.services.devices.add(world.admin, aid, "Old phone")
    await world.services.devices.revoke(world.admin, aid, made.device.id)
    page = (await admin.get(f"/addresses/{aid}/devices")).text
    assert "No device in use" in page and "No device yet" not in page
    assert f'href="/addresses/{aid}/devices?revoked=1">Revoked devices</a>.' in page
    revoked = (await admin.get(f"/addresses/{aid}/devices?revoked=1")).text
    assert "Old phone" in revoked
    await admin.client.aclose()
