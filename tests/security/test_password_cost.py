"""Finding 4: chosen passwords as a CPU lever and an oracle. A wrong password cost one
Argon2id per chosen device of the address (up to 5), so its time told which addresses
exist and hold chosen passwords, and one unbounded Argon2id queue served mail logins
and the web manager alike. Now a wrong password costs one Argon2id whatever the
address holds, the queue is bounded, and the manager has its own pool."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import select

from mailward.auth.budget import HashingBounds
from mailward.auth.interfaces import AuthFailure, FailureReason
from mailward.core.access.actors import Actor
from mailward.db.models import Device
from mailward.limitstore import MemoryRateLimitStore, RateLimitStore
from tests.integration.auth_devices import add_generated
from tests.security.flood_support import (
    CHOSEN,
    CountingHasher,
    GatedHasher,
    flood_authenticator,
    is_device,
    is_wrong,
)
from tests.support import World, wait_until

OPERATOR = Actor.operator()


async def address_with(world: World, local: str, generated: int, chosen: int) -> str:
    email = f"{local}@example.test"
    await world.services.addresses.create_by_email(OPERATOR, email)
    for i in range(generated):
        await world.services.devices.add(OPERATOR, email, f"Phone {i}")
    for i in range(chosen):
        await world.services.devices.add(OPERATOR, email, f"Laptop {i}", password=CHOSEN[i])
    return email


async def test_a_wrong_password_costs_one_argon2id_whatever_the_address_holds(
    world: World, limit_store: RateLimitStore
) -> None:
    hasher = CountingHasher()
    async with flood_authenticator(world.services, limit_store, hasher) as auth:
        targets = {
            "unknown": "nobody@example.test",
            "generated only": await address_with(world, "gen", 3, 0),
            "5 chosen": await address_with(world, "five", 2, 5),
        }
        cost = {}
        for kind, email in targets.items():
            before = hasher.stretches + hasher.checks
            assert is_wrong(await auth.authenticate(email, "Wrong-Guess-1234!", "imap", "::1"))
            cost[kind] = hasher.stretches + hasher.checks - before
        assert cost == {"unknown": 1, "generated only": 1, "5 chosen": 1}


async def test_each_of_five_chosen_passwords_is_found_with_one_argon2id(
    world: World, limit_store: RateLimitStore
) -> None:
    hasher = CountingHasher()
    async with flood_authenticator(world.services, limit_store, hasher) as auth:
        email = await address_with(world, "five", 0, 5)
        for password in CHOSEN:
            before = hasher.stretches + hasher.checks
            result = await auth.authenticate(email, password, "imap", "192.0.2.4")
            assert not isinstance(result, AuthFailure)
            assert hasher.stretches + hasher.checks - before == 1


async def test_an_older_per_device_hash_works_and_is_converted_at_its_login(
    world: World,
) -> None:
    hasher = CountingHasher()
    async with flood_authenticator(world.services, MemoryRateLimitStore(), hasher) as auth:
        new = await world.services.devices.add(OPERATOR, world.address, "Old laptop")
        async with world.services.db.unit_of_work() as uow:
            device = await uow.session.get(Device, new.device.id)
            assert device is not None
            device.password_kind, device.password_lookup = "chosen", None
            device.password_hash = hasher.hash_sync(CHOSEN[0])  # as stored before salts
        assert is_device(
            await auth.authenticate(world.address, CHOSEN[0], "imap", "::1"), new.device.id
        )
        async with world.services.db.unit_of_work() as uow:
            row = (
                await uow.session.execute(select(Device).where(Device.id == new.device.id))
            ).scalar_one()
            assert row.password_hash is None and row.password_lookup is not None
        auth.cache.clear()
        before = (hasher.stretches, hasher.checks)
        assert is_device(
            await auth.authenticate(world.address, CHOSEN[0], "imap", "::1"), new.device.id
        )
        assert (hasher.stretches, hasher.checks) == (before[0] + 1, before[1])


async def test_a_full_argon2id_queue_says_try_later_at_once_and_generated_logins_go_on(
    world: World,
) -> None:
    hasher = GatedHasher()
    bounds = HashingBounds(total=2, per_network=1, per_address=8)
    async with flood_authenticator(
        world.services, MemoryRateLimitStore(), hasher, bounds=bounds
    ) as auth:
        try:
            phone, password = await add_generated(world, "Phone")
            waiting = [
                asyncio.create_task(
                    auth.authenticate(world.address, f"guess-{i}", "imap", f"10.0.0.{i}")
                )
                for i in range(2)
            ]
            await wait_until(lambda: auth.budget.in_flight == 2)
            full = await asyncio.wait_for(
                auth.authenticate(world.address, "g3", "imap", "10.0.0.9"), 5
            )
            assert full == AuthFailure(FailureReason.UNAVAILABLE, 5.0)
            ok = await asyncio.wait_for(
                auth.authenticate(world.address, password, "imap", "10.0.0.9"), 5
            )
            assert is_device(ok, phone)
            hasher.gate.set()
            assert all(is_wrong(r) for r in await asyncio.gather(*waiting))
            assert auth.budget.in_flight == 0
            hasher.gate.clear()
            first = asyncio.create_task(auth.authenticate(world.address, "g4", "imap", "10.0.0.1"))
            await wait_until(lambda: auth.budget.in_flight == 1)
            same_network = await auth.authenticate(world.address, "g5", "imap", "10.0.0.1")
            assert isinstance(same_network, AuthFailure)
            assert same_network.reason is FailureReason.UNAVAILABLE
            hasher.gate.set()
            assert is_wrong(await first)
            assert hasher.stretches == 3
        finally:
            hasher.gate.set()


async def test_the_web_managers_password_checks_never_wait_behind_mail_logins(
    world: World,
) -> None:
    deps = world.services.deps
    assert deps.login_hasher is not None and deps.login_hasher is not deps.hasher
    release = threading.Event()
    busy = [
        deps.login_hasher._pool.submit(release.wait, 30)
        for _ in range(world.services.settings.argon2_workers)
    ]
    try:
        loop = asyncio.get_running_loop()
        stuck = loop.run_in_executor(deps.login_hasher._pool, lambda: None)
        await asyncio.wait_for(deps.hasher.verify(None, "a manager sign-in"), 10)
        assert not stuck.done()
    finally:
        release.set()
        for job in busy:
            job.result(5)
        await stuck
