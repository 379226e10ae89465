"""The notice on a new network (issue 16), with a frozen clock: once for a new /24, not
for a known one, never for a failed login, rate-limited and batched per device; the
login path itself only notes the network."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure
from mailward.clock import FrozenClock
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.core.devices.newnetworks import NewNetworkNotices
from mailward.core.devices.service import DeviceOptions
from mailward.device_upkeep import DeviceUpkeep
from tests.integration.auth_devices import OPERATOR, add_generated
from tests.mailbox import CapturingMailer
from tests.support import World


@pytest.fixture
def mailer() -> CapturingMailer:
    return CapturingMailer()


@pytest.fixture
def notices(world: World, mailer: CapturingMailer) -> NewNetworkNotices:
    """The notices of the world's devices, sent to ``mailer``."""
    settings = world.services.settings
    return NewNetworkNotices(
        world.services.deps, mailer, settings.sender_address, "https://mail.example.test"
    )


async def login(auth: Authenticator, world: World, password: str, ip: str) -> object:
    result = await auth.authenticate(world.address, password, "imap", ip, "Thunderbird")
    await auth.last_used.flush()
    return result


async def test_a_new_24_is_told_once_a_known_one_never(
    auth: Authenticator,
    world: World,
    clock: FrozenClock,
    mailer: CapturingMailer,
    notices: NewNetworkNotices,
) -> None:
    device, password = await add_generated(world, "Phone")
    assert isinstance(await login(auth, world, password, "198.51.100.7"), AuthenticatedDevice)
    assert await notices.send_pending() == 0  # the device's first network: its setting up
    await login(auth, world, password, "198.51.100.99")  # same /24
    assert await notices.send_pending() == 0
    clock.advance(timedelta(minutes=5))
    await login(auth, world, password, "203.0.113.20")
    assert await notices.send_pending() == 1
    (message,) = mailer.sent
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"] == "New network for Phone (info@example.test)"
    for part in ("203.0.113.20", "203.0.113.0/24", "IMAP", "Thunderbird", "2026-11-24 12:05 UTC"):
        assert part in text
    assert (
        "https://mail.example.test/addresses/" in text
        and f"/devices/{device}/revoke-confirm" in text
    )
    await login(auth, world, password, "203.0.113.21")  # now known
    clock.advance(timedelta(hours=2))
    assert await notices.send_pending() == 0 and len(mailer.sent) == 1
    events = await world.services.audit.list(
        OPERATOR, AuditFilter(device_id=device, action=str(AuditTag.DEVICE_NEW_NETWORK))
    )
    assert [e.details["networks"] for e in events] == [["203.0.113.0/24"]]


async def test_a_failed_login_from_a_new_network_is_never_told(
    auth: Authenticator, world: World, mailer: CapturingMailer, notices: NewNetworkNotices
) -> None:
    device, password = await add_generated(world, "Phone")
    await login(auth, world, password, "198.51.100.7")
    assert isinstance(await login(auth, world, "wrong-password-guess", "203.0.113.5"), AuthFailure)
    await world.services.devices.set_options(
        OPERATOR, world.address, device, DeviceOptions(None, ("imap",), ("198.51.100.0/24",))
    )
    refused = await login(auth, world, password, "192.0.2.77")  # right password, refused
    assert isinstance(refused, AuthFailure)
    assert await notices.send_pending() == 0 and mailer.sent == []


async def test_notices_are_rate_limited_per_device_and_batched(
    auth: Authenticator,
    world: World,
    clock: FrozenClock,
    mailer: CapturingMailer,
    notices: NewNetworkNotices,
) -> None:
    _, password = await add_generated(world, "Phone")
    await login(auth, world, password, "198.51.100.7")
    await login(auth, world, password, "203.0.113.5")
    assert await notices.send_pending() == 1
    clock.advance(timedelta(minutes=10))
    await login(auth, world, password, "192.0.2.5")
    await login(auth, world, password, "2001:db8:7::1")
    assert await notices.send_pending() == 0  # within the hour: they wait
    clock.advance(timedelta(hours=1))
    assert await notices.send_pending() == 1  # both networks in one message
    text = mailer.sent[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "192.0.2.0/24" in text and "2001:db8:7::/48" in text


async def test_one_upkeep_pass_sends_the_notices_and_outlives_a_failing_step(
    auth: Authenticator,
    world: World,
    caplog: pytest.LogCaptureFixture,
    mailer: CapturingMailer,
    notices: NewNetworkNotices,
) -> None:
    services = world.services
    upkeep = DeviceUpkeep(notices, services.unused_devices(mailer), services.device_history, 60)

    async def broken() -> None:
        raise ConnectionError("database away")

    upkeep.steps.insert(0, ("broken step", broken))
    _, password = await add_generated(world, "Phone")
    await login(auth, world, password, "198.51.100.7")
    await login(auth, world, password, "203.0.113.5")
    await upkeep.run_once()
    assert [m["Subject"] for m in mailer.sent] == ["New network for Phone (info@example.test)"]
    assert "device upkeep: broken step failed: ConnectionError" in caplog.text


async def test_a_notice_that_cannot_be_sent_is_shown_to_the_administrators(
    auth: Authenticator, world: World, clock: FrozenClock
) -> None:
    settings = world.services.settings
    notices = NewNetworkNotices(  # the real outbox: no smarthost here
        world.services.deps, world.services.mailer, settings.sender_address, "https://m.test"
    )
    device, password = await add_generated(world, "Phone")
    await login(auth, world, password, "198.51.100.7")
    clock.advance(timedelta(minutes=5))
    await login(auth, world, password, "203.0.113.20")
    assert await notices.send_pending() == 1
    query = AuditFilter(device_id=device, action=AuditTag.NOTICE_NOT_SENT)
    [event] = await world.services.audit.list(OPERATOR, query)
    assert event.details["notice"] == "new_network" and event.details["device"] == "Phone"
    assert "admin@corp.test" in event.details["to"] and "no smarthost" in event.details["reason"]
