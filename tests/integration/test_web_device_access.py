"""The device's Access options page: expiry, protocols and networks after creation."""

from __future__ import annotations

from mailward.auth.interfaces import AuthenticatedDevice
from mailward.auth.runtime import close_authenticator
from mailward.clock import FrozenClock
from tests.integration.test_web_security import address_id, signed_in
from tests.support import World, accept_offers


async def test_an_administrator_limits_a_device_and_its_logins_follow(
    world: World, clock: FrozenClock
) -> None:
    aid = await address_id(world)
    new = await world.services.devices.add(world.admin, aid, "Intern laptop")
    admin = await signed_in(world, clock, world.admin)
    page = f"/addresses/{aid}/devices/{new.device.id}/access"
    assert "Access options" in (await admin.get(f"/addresses/{aid}/devices")).text
    saved = await admin.post_form(
        page, page, {"protocols": "imap", "networks": "192.0.2.0/24\n198.51.100.7", "expires": ""}
    )
    assert saved.status_code == 303
    device = await world.services.devices.get(world.admin, aid, new.device.id)
    assert device.allowed_protocols == ["imap"]
    assert device.allowed_networks == ["192.0.2.0/24", "198.51.100.7/32"]
    authenticator = world.services.build_authenticator()
    try:
        ok = await authenticator.authenticate(world.address, new.password, "imap", "192.0.2.9")
        wrong_protocol = await authenticator.authenticate(
            world.address, new.password, "smtp", "192.0.2.9"
        )
        outside = await authenticator.authenticate(
            world.address, new.password, "imap", "203.0.113.1"
        )
    finally:
        await close_authenticator(authenticator)
    assert isinstance(ok, AuthenticatedDevice)
    assert not isinstance(wrong_protocol, AuthenticatedDevice)
    assert not isinstance(outside, AuthenticatedDevice)
    bad = await admin.post_form(page, page, {"protocols": "imap", "networks": "not-a-net"})
    assert bad.status_code == 400 and "not a network" in bad.text
    await admin.client.aclose()


async def test_a_user_member_cannot_change_access_options(world: World, clock: FrozenClock) -> None:
    aid = await address_id(world)
    await world.services.addresses.add_user(world.admin, aid, "user@corp.test")
    await accept_offers(world.services, world.user)
    theirs = await world.services.devices.add(world.admin, aid, "Phone", "user@corp.test")
    user = await signed_in(world, clock, world.user)
    page = await user.get(f"/addresses/{aid}/devices/{theirs.device.id}/access")
    assert page.status_code == 403 and "Lena Legal" in page.text
    await user.client.aclose()
