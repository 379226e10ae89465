"""Every branch of authenticate(), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure, FailureReason
from mailward.clock import FrozenClock
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.core.devices.service import DeviceOptions
from tests.integration.auth_devices import (
    CHOSEN_PASSWORDS,
    OPERATOR,
    add_chosen,
    add_generated,
    argon2_calls,
    device_id,
)
from tests.support import World

WRONG = AuthFailure(FailureReason.WRONG_CREDENTIALS)


async def refusal_reasons(world: World, device: int) -> list[object]:
    events = await world.services.audit.list(
        OPERATOR, AuditFilter(device_id=device, action=str(AuditTag.DEVICE_LOGIN_REFUSED))
    )
    return [e.details.get("reason") for e in events]


async def test_a_generated_password_logs_in_its_device(auth: Authenticator, world: World) -> None:
    device, password = await add_generated(world, "Phone")
    result = await auth.authenticate("Info@Example.TEST", password, "imap", "198.51.100.7")
    assert isinstance(result, AuthenticatedDevice)
    assert (result.device_id, result.address, result.device_name) == (
        device,
        "info@example.test",
        "Phone",
    )


async def test_a_generated_login_does_no_argon2_whatever_the_device_count(
    auth: Authenticator, world: World
) -> None:
    await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    devices = [await add_generated(world, f"Device {i}") for i in range(25)]
    before = argon2_calls(world.services)
    for expected, password in devices:
        assert (
            device_id(await auth.authenticate(world.address, password, "smtp", "::1")) == expected
        )
    assert argon2_calls(world.services) == before


async def test_a_chosen_password_is_checked_with_argon2_after_the_lookup_misses(
    auth: Authenticator, world: World
) -> None:
    await add_generated(world, "Phone")
    laptop = await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    before = argon2_calls(world.services)
    result = await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "pop3", "192.0.2.9")
    assert device_id(result) == laptop
    assert argon2_calls(world.services) == before + 1


async def test_a_cached_login_does_no_second_argon2(auth: Authenticator, world: World) -> None:
    await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "192.0.2.9")
    before = argon2_calls(world.services)
    await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "192.0.2.9")
    assert argon2_calls(world.services) == before


async def test_a_wrong_password_fails_and_costs_one_argon2(
    auth: Authenticator, world: World
) -> None:
    await add_generated(world, "Phone")
    before = argon2_calls(world.services)
    assert await auth.authenticate(world.address, "not-the-password", "imap", "192.0.2.9") == WRONG
    assert argon2_calls(world.services) == before + 1


async def test_an_unknown_address_costs_the_same_argon2_as_a_known_one(
    auth: Authenticator, world: World
) -> None:
    before = argon2_calls(world.services)
    result = await auth.authenticate("nobody@example.test", "whatever-password", "imap", "::1")
    assert result == WRONG
    assert argon2_calls(world.services) == before + 1


async def test_a_malformed_address_fails_without_hashing(auth: Authenticator, world: World) -> None:
    before = argon2_calls(world.services)
    for address in ("", "no-at-sign", "a@b@", "x@-bad-.test"):
        assert await auth.authenticate(address, "pw-pw-pw-pw", "imap", "::1") == WRONG
    assert argon2_calls(world.services) == before


async def test_an_unknown_protocol_fails(auth: Authenticator, world: World) -> None:
    _, password = await add_generated(world, "Phone")
    assert await auth.authenticate(world.address, password, "lmtp", "::1") == WRONG


async def test_a_revoked_device_fails_like_a_wrong_password_and_the_audit_says_why(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Old phone")
    await world.services.devices.revoke(world.admin, world.address, device)
    assert await auth.authenticate(world.address, password, "imap", "192.0.2.9") == WRONG
    assert await refusal_reasons(world, device) == ["revoked"]


async def test_an_expired_device_fails_and_the_audit_says_why(
    auth: Authenticator, world: World, clock: FrozenClock
) -> None:
    options = DeviceOptions(expires_at=clock.now() + timedelta(days=7))
    device, password = await add_generated(world, "Intern, one week", options)
    assert device_id(await auth.authenticate(world.address, password, "imap", "::1")) == device
    clock.advance(timedelta(days=8))
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG
    assert await refusal_reasons(world, device) == ["expired"]


async def test_a_protocol_the_device_may_not_use_fails_and_the_audit_says_why(
    auth: Authenticator, world: World
) -> None:
    options = DeviceOptions(protocols=("smtp",))
    device, password = await add_generated(world, "Website contact form", options)
    assert device_id(await auth.authenticate(world.address, password, "smtp", "::1")) == device
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG
    assert await refusal_reasons(world, device) == ["protocol_not_allowed"]


async def test_a_network_outside_the_allowed_list_fails_and_the_audit_says_why(
    auth: Authenticator, world: World
) -> None:
    options = DeviceOptions(networks=("203.0.113.0/24", "2001:db8::/32"))
    device, password = await add_generated(world, "Office scanner", options)
    for inside in ("203.0.113.5", "::ffff:203.0.113.77", "2001:db8::1"):
        assert device_id(await auth.authenticate(world.address, password, "smtp", inside)) == device
    assert await auth.authenticate(world.address, password, "smtp", "198.51.100.1") == WRONG
    assert await auth.authenticate(world.address, password, "smtp", "not-an-ip") == WRONG
    assert await refusal_reasons(world, device) == ["network_not_allowed"] * 2


async def test_a_refusal_is_audited_once_per_device_reason_and_ip(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Old phone")
    await world.services.devices.revoke(world.admin, world.address, device)
    for _ in range(5):
        await auth.authenticate(world.address, password, "imap", "192.0.2.9")
    assert await refusal_reasons(world, device) == ["revoked"]
