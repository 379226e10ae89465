"""Rate limits before hashing, counted once per repeated password, fair to real users."""

from __future__ import annotations

import asyncio

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure, FailureReason
from mailward.auth.limits import AuthLimits, Limit
from mailward.auth.runtime import close_authenticator
from tests.integration.auth_devices import (
    CHOSEN_PASSWORDS,
    add_chosen,
    add_generated,
    argon2_calls,
    device_id,
)
from tests.support import World

ATTACKER = "203.0.113.66"


def is_limited(result: object) -> bool:
    return isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED


async def test_too_many_failures_from_one_ip_are_rate_limited_with_retry_after(
    auth: Authenticator, world: World
) -> None:
    await add_generated(world, "Phone")
    limit = auth.limiter.limits.address_ip.failures
    for i in range(limit):
        result = await auth.authenticate(world.address, f"guess-{i}", "imap", ATTACKER)
        assert result.reason == FailureReason.WRONG_CREDENTIALS  # type: ignore[union-attr]
    result = await auth.authenticate(world.address, "guess-next", "imap", ATTACKER)
    assert isinstance(result, AuthFailure) and result.reason == FailureReason.RATE_LIMITED
    assert result.retry_after is not None and result.retry_after > 0


async def test_a_rate_limited_attempt_never_reaches_argon2(
    auth: Authenticator, world: World
) -> None:
    await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    for i in range(auth.limiter.limits.address_ip.failures):
        await auth.authenticate(world.address, f"guess-{i}", "imap", ATTACKER)
    before = argon2_calls(world.services)
    result = await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", ATTACKER)
    assert is_limited(result)
    assert argon2_calls(world.services) == before


async def test_the_same_wrong_password_repeated_counts_once(
    auth: Authenticator, world: World
) -> None:
    _, password = await add_generated(world, "Phone")
    before = argon2_calls(world.services)
    for _ in range(3 * auth.limiter.limits.address_ip.failures):
        result = await auth.authenticate(world.address, "old-password", "imap", "192.0.2.50")
        assert result == AuthFailure(FailureReason.WRONG_CREDENTIALS)
    assert argon2_calls(world.services) == before + 1
    assert device_id(await auth.authenticate(world.address, password, "imap", "192.0.2.50"))


async def test_an_attackers_thousand_failures_do_not_stop_the_real_device_elsewhere(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    results = [
        await auth.authenticate(world.address, f"guess-{i}", "imap", ATTACKER) for i in range(1000)
    ]
    assert sum(is_limited(r) for r in results) >= 990
    result = await auth.authenticate(world.address, password, "imap", "198.51.100.20")
    assert device_id(result) == device


async def test_an_ip_that_just_logged_in_is_not_locked_out_by_a_distributed_attack(
    world: World,
) -> None:
    limits = AuthLimits(
        address_ip=Limit("address_ip.auth", 5, 900),
        ip=Limit("ip.auth", 50, 900),
        address=Limit("address.auth", 20, 900),
    )
    auth = world.services.build_authenticator(limits=limits)
    try:
        laptop = await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
        phone, generated = await add_generated(world, "Phone")
        home = "198.51.100.20"
        result = await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", home)
        assert device_id(result) == laptop
        auth.cache.clear()
        for i in range(40):
            ip = f"203.0.113.{i % 10}"
            await auth.authenticate(world.address, f"guess-{i}", "imap", ip)
        newcomer = "198.51.100.99"
        assert is_limited(
            await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", newcomer)
        )
        assert (
            device_id(await auth.authenticate(world.address, generated, "imap", newcomer)) == phone
        )
        result = await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", home)
        assert isinstance(result, AuthenticatedDevice) and result.device_id == laptop
    finally:
        await close_authenticator(auth)


async def test_a_hundred_concurrent_logins_of_several_devices_all_succeed(
    auth: Authenticator, world: World
) -> None:
    generated = [await add_generated(world, f"Phone {i}") for i in range(4)]
    chosen = [
        (await add_chosen(world, f"Laptop {i}", pw), pw) for i, pw in enumerate(CHOSEN_PASSWORDS)
    ]
    logins = (generated + chosen) * 15
    results = await asyncio.gather(
        *(
            auth.authenticate(world.address, pw, "imap", f"192.0.2.{i % 50}")
            for i, (_, pw) in enumerate(logins[:100])
        )
    )
    assert [device_id(r) for r in results] == [d for d, _ in logins[:100]]


async def test_concurrent_logins_with_the_same_chosen_password_share_one_argon2(
    auth: Authenticator, world: World
) -> None:
    laptop = await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    before = argon2_calls(world.services)
    results = await asyncio.gather(
        *(auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "::1") for _ in range(10))
    )
    assert [device_id(r) for r in results] == [laptop] * 10
    assert argon2_calls(world.services) == before + 1
