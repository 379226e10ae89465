"""Changes to a device take effect at once, here and in other processes; a database
outage is a temporary failure; last use is written in batches; no password is logged."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.directory import DeviceDirectory
from mailward.auth.interfaces import AuthFailure, FailureReason
from mailward.auth.runtime import AuthRuntime
from mailward.clock import FrozenClock
from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.service import DeviceOptions
from mailward.db.engine import Database
from mailward.settings import Settings
from tests.integration.auth_devices import (
    CHOSEN_PASSWORDS,
    add_chosen,
    add_generated,
    device_id,
)
from tests.support import World, free_port, running_services

WRONG = AuthFailure(FailureReason.WRONG_CREDENTIALS)


async def test_revoking_a_device_stops_its_cached_password_at_once(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    _, other = await add_generated(world, "Tablet")
    assert device_id(await auth.authenticate(world.address, password, "imap", "::1")) == device
    await world.services.devices.revoke(world.admin, world.address, device)
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG
    assert device_id(await auth.authenticate(world.address, other, "imap", "::1"))


async def test_a_changed_password_stops_the_old_one_at_once(
    auth: Authenticator, world: World
) -> None:
    device = await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[0])
    assert device_id(await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "::1"))
    new = await world.services.devices.change_password(world.admin, world.address, device)
    assert await auth.authenticate(world.address, CHOSEN_PASSWORDS[0], "imap", "::1") == WRONG
    assert device_id(await auth.authenticate(world.address, new.password, "imap", "::1")) == device


async def test_a_remembered_wrong_password_is_forgotten_when_it_becomes_right(
    auth: Authenticator, world: World
) -> None:
    await add_generated(world, "Phone")
    password = CHOSEN_PASSWORDS[1]
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG
    device = await add_chosen(world, "Laptop", password)
    assert device_id(await auth.authenticate(world.address, password, "imap", "::1")) == device


async def test_narrowed_options_apply_to_a_cached_password_at_once(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    assert device_id(await auth.authenticate(world.address, password, "imap", "::1"))
    await world.services.devices.set_options(
        world.admin, world.address, device, DeviceOptions(protocols=("smtp",))
    )
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG


async def revoke_in_another_process(
    world: World, settings: Settings, clock: FrozenClock, device: int
) -> None:
    """Revoke through another Services on the same database: the operator's CLI in
    another process."""
    async for cli in running_services(settings, clock):
        await cli.devices.revoke(world.admin, world.address, device)


async def test_a_revocation_by_another_process_is_seen_once_the_feed_polls(
    auth: Authenticator, world: World, settings: Settings, clock: FrozenClock
) -> None:
    device, password = await add_generated(world, "Phone")
    feed = world.services.change_feed()
    await feed.start_position()
    assert device_id(await auth.authenticate(world.address, password, "imap", "::1"))
    await revoke_in_another_process(world, settings, clock, device)
    assert await feed.poll_once() == 1
    assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG


async def test_the_running_feed_brings_another_process_change_within_a_second(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    device, password = await add_generated(world, "Phone")
    seen = asyncio.Event()

    async def on_change(notice: DeviceChangeNotice) -> None:
        if notice.device_id == device and notice.kind == "revoke":
            seen.set()

    world.services.events.subscribe(on_change)
    async with AuthRuntime(world.services) as runtime:
        auth = runtime.authenticator
        assert device_id(await auth.authenticate(world.address, password, "imap", "::1"))
        await revoke_in_another_process(world, settings, clock, device)
        await asyncio.wait_for(seen.wait(), timeout=10)
        assert await auth.authenticate(world.address, password, "imap", "::1") == WRONG
    assert settings.device_change_poll_seconds < 1


def dead_database_url(database_url: str, tmp_path: Path) -> str:
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/missing-dir/nothing/mailward.db"
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"


async def test_a_database_outage_is_a_temporary_failure_never_a_wrong_password(
    auth: Authenticator, world: World, database_url: str, tmp_path: Path
) -> None:
    _, password = await add_generated(world, "Phone")
    dead = Database(dead_database_url(database_url, tmp_path))
    auth.directory = DeviceDirectory(dead)
    try:
        result = await auth.authenticate(world.address, password, "imap", "::1")
        assert result == AuthFailure(FailureReason.UNAVAILABLE)
        result = await auth.authenticate(world.address, "wrong-password", "imap", "::1")
        assert result == AuthFailure(FailureReason.UNAVAILABLE)
    finally:
        await dead.dispose()


async def test_last_use_is_written_in_one_batch_not_per_login(
    auth: Authenticator, world: World
) -> None:
    device, password = await add_generated(world, "Phone")
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        await auth.authenticate(world.address, password, "imap", ip)
    auth.note_client_name(device, "Thunderbird 128\x00")
    view = await world.services.devices.get(world.admin, world.address, device)
    assert view.last_used_at is None
    assert auth.last_used.pending == 1
    assert await auth.last_used.flush() == 1
    view = await world.services.devices.get(world.admin, world.address, device)
    assert (view.last_used_ip, view.last_used_protocol, view.last_used_client) == (
        "192.0.2.3",
        "imap",
        "Thunderbird 128",
    )
    assert view.last_used_at is not None
    assert auth.last_used.pending == 0


async def test_last_use_survives_a_failed_flush(auth: Authenticator, world: World) -> None:
    device, password = await add_generated(world, "Phone")
    await auth.authenticate(world.address, password, "pop3", "192.0.2.1", "K-9 Mail")
    real_db = auth.last_used.db
    auth.last_used.db = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    assert await auth.last_used.flush() == 0
    await auth.last_used.db.dispose()
    auth.last_used.db = real_db
    assert await auth.last_used.flush() == 1
    view = await world.services.devices.get(world.admin, world.address, device)
    assert view.last_used_client == "K-9 Mail"


async def test_no_password_is_ever_logged(
    world: World, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = world.services.build_authenticator()
    _, password = await add_generated(world, "Phone")
    secrets = [password, "a-wrong-password-xyz", CHOSEN_PASSWORDS[2]]
    await add_chosen(world, "Laptop", CHOSEN_PASSWORDS[2])
    for pw in secrets:
        await auth.authenticate(world.address, pw, "imap", "::1", "Client")
    await auth.last_used.flush()
    dead = Database(dead_database_url(database_url, tmp_path))
    auth.directory = DeviceDirectory(dead)
    auth.last_used.db = dead
    auth.cache.clear()
    for pw in secrets:
        await auth.authenticate(world.address, pw, "imap", "::1")
    auth.last_used.note(1, world.services.clock.now(), "::1", "imap", None)
    await auth.last_used.flush()
    await dead.dispose()
    assert "last-used flush failed" in caplog.text
    for pw in secrets:
        assert pw not in caplog.text
