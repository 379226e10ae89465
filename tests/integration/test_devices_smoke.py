from mailward.core.passwords import PasswordHasher
from tests.support import World


async def test_a_device_added_without_user_gets_a_generated_password(world: World) -> None:
    new = await world.services.devices.add(world.admin, world.address, "Website contact form")
    assert len(new.password) == 20
    assert new.device.password_kind == "generated"
    devices = await world.services.devices.list(world.admin, world.address)
    assert [d.name for d in devices] == ["Website contact form"]
    assert isinstance(world.services.deps.hasher, PasswordHasher)
