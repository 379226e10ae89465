"""Fixtures and helpers shared by the device-authentication tests (no tests here)."""

from __future__ import annotations

from mailward.auth.interfaces import AuthenticatedDevice, AuthResult
from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.devices.service import DeviceOptions
from tests.support import World

CHOSEN_PASSWORDS = [
    "Quiet-Harbor-Lantern-47!",
    "Velvet^Glacier^Orchid^92",
    "Mango tundra Pixel 3081 zeal",
    "Copper;Falcon;Meadow;5519",
    "Saffron orbit Kettle 2207 jolt",
]
OPERATOR = Actor.operator()


async def add_generated(
    world: World, name: str, options: DeviceOptions | None = None, address: str | None = None
) -> tuple[int, str]:
    new = await world.services.devices.add(
        world.admin, address or world.address, name, options=options
    )
    return new.device.id, new.password


async def add_chosen(world: World, name: str, password: str) -> int:
    new = await world.services.devices.add(world.admin, world.address, name, password=password)
    assert new.device.password_kind == "chosen"
    return new.device.id


def device_id(result: AuthResult) -> int:
    assert isinstance(result, AuthenticatedDevice), result
    return result.device_id


def argon2_calls(services: Services) -> int:
    return services.deps.mail_login_hasher.verifications
