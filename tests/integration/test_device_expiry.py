"""Unused devices expire by their organization's policy (issue 16), with a frozen clock:
notice (with a one-use "keep it" link) -> weekly digest -> revocation; a login or
"keep it" starts the count again; never-used devices count from their creation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.clock import FrozenClock
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.core.devices.unused import UnusedDevices
from mailward.core.organizations.policy import PolicyChange
from mailward.errors import InvalidInput
from tests.integration.auth_devices import OPERATOR, add_generated
from tests.mailbox import CapturingMailer
from tests.support import World, accept_offers

MANAGERS = ["admin@corp.test", "legal@corp.test"]


@pytest.fixture
def mailer() -> CapturingMailer:
    return CapturingMailer()


@pytest.fixture
def unused(world: World, mailer: CapturingMailer) -> UnusedDevices:
    return world.services.unused_devices(mailer)


def keep_token_in(mailer: CapturingMailer) -> str:
    body = mailer.sent[0].get_body(("plain",))
    assert body is not None
    line = next(w for w in body.get_content().split() if "/devices/keep/" in w)
    return line.rsplit("/", 1)[1]


async def actions(world: World, device: int) -> list[str]:
    events = await world.services.audit.list(OPERATOR, AuditFilter(device_id=device))
    return [e.action for e in reversed(events)]


async def status(world: World, device: int) -> str:
    return (await world.services.devices.get(OPERATOR, world.address, device)).status


async def test_notice_then_digest_then_revocation_of_a_never_used_device(
    world: World, unused: UnusedDevices, mailer: CapturingMailer, clock: FrozenClock
) -> None:
    device, _ = await add_generated(world, "Old scanner")
    clock.advance(timedelta(days=89))
    assert (await unused.sweep()).noticed == [] and mailer.sent == []
    clock.advance(timedelta(days=1))  # 90 days since its creation, never used
    result = await unused.sweep()
    assert result.noticed == [device] and result.digests == [world.org_id]
    notice, digest = mailer.sent
    assert sorted(notice["To"].split(", ")) == MANAGERS  # no user: the administrators
    assert "Old scanner" in notice["Subject"] and "/devices/keep/" in notice.as_string()
    assert "revoked on 2027-03-24" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "about to be revoked" in digest["Subject"] and "Old scanner" in digest.as_string()
    mailer.sent.clear()
    clock.advance(timedelta(days=6))
    assert await unused.sweep() == type(result)()  # no second notice, digest weekly
    clock.advance(timedelta(days=1))
    assert (await unused.sweep()).digests == [world.org_id]
    clock.advance(timedelta(days=22))  # day 119
    assert (await unused.sweep()).revoked == []
    assert await status(world, device) == "active"
    clock.advance(timedelta(days=1))  # day 120
    assert (await unused.sweep()).revoked == [device]
    assert await status(world, device) == "revoked"
    assert await actions(world, device) == [
        "device:add", "device:unused_notice", "device:revoke", "device:expire_unused",
    ]  # fmt: skip


async def test_keep_it_resets_the_count_and_works_once(
    world: World, unused: UnusedDevices, mailer: CapturingMailer, clock: FrozenClock
) -> None:
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(world.services, world.user)
    new = await world.services.devices.add(
        world.admin, world.address, "Tablet", user_email="user@corp.test"
    )
    device = new.device.id
    clock.advance(timedelta(days=100))
    assert (await unused.sweep()).noticed == [device]
    assert mailer.sent[0]["To"] == "user@corp.test"  # the device's user
    token = keep_token_in(mailer)
    clock.advance(timedelta(days=5))
    kept = await unused.keep(token, "192.0.2.50")
    assert kept.device_name == "Tablet"
    with pytest.raises(InvalidInput, match="already used"):
        await unused.keep(token, "192.0.2.50")
    with pytest.raises(InvalidInput, match="not valid"):
        await unused.keep(token[:-1] + ("1" if token.endswith("0") else "0"), None)
    clock.advance(timedelta(days=89))  # 89 days after "keep it": nothing
    mailer.sent.clear()
    assert (await unused.sweep()).noticed == [] and mailer.sent == []
    clock.advance(timedelta(days=1))
    assert (await unused.sweep()).noticed == [device]
    assert "device:keep" in await actions(world, device)


async def test_a_login_after_the_notice_keeps_the_device_and_voids_the_link(
    world: World, auth: Authenticator, unused: UnusedDevices, mailer: CapturingMailer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    device, password = await add_generated(world, "Laptop")
    clock.advance(timedelta(days=95))
    await unused.sweep()
    token = keep_token_in(mailer)
    clock.advance(timedelta(days=1))
    await auth.authenticate(world.address, password, "imap", "198.51.100.7")
    await auth.last_used.flush()
    clock.advance(timedelta(days=30))  # 125 days after creation, 30 after the login
    assert (await unused.sweep()).revoked == []
    assert await status(world, device) == "active"
    with pytest.raises(InvalidInput):
        await unused.keep(token, None)


async def test_the_link_expires_with_the_grace_and_a_policy_switched_off_stops_expiry(
    world: World, unused: UnusedDevices, mailer: CapturingMailer, clock: FrozenClock
) -> None:
    device, _ = await add_generated(world, "Printer")
    # A policy switched on late: the device is long idle, yet it gets the full grace.
    await world.services.policies.set(world.admin, "Corp", PolicyChange(off=True))
    clock.advance(timedelta(days=200))
    assert (await unused.sweep()).noticed == []
    await world.services.policies.set(
        world.admin, "Corp", PolicyChange(unused_notice_days=30, unused_revoke_days=40)
    )
    assert (await unused.sweep()).noticed == [device]
    token = keep_token_in(mailer)
    clock.advance(timedelta(days=9))
    assert (await unused.sweep()).revoked == []
    clock.advance(timedelta(days=1))  # 10 days of grace after the notice
    with pytest.raises(InvalidInput, match="expired"):
        await unused.keep(token, None)
    assert (await unused.sweep()).revoked == [device]


async def test_a_notice_that_cannot_be_sent_is_shown_to_the_administrators(
    world: World, clock: FrozenClock
) -> None:
    unused = world.services.unused_devices()  # the real outbox: no smarthost here
    device, _ = await add_generated(world, "Old scanner")
    clock.advance(timedelta(days=90))
    assert (await unused.sweep()).noticed == [device]
    query = AuditFilter(device_id=device, action=AuditTag.NOTICE_NOT_SENT)
    [event] = await world.services.audit.list(OPERATOR, query)
    assert event.details["notice"] == "unused_device"
    assert event.details["device"] == "Old scanner" and event.target == world.address
    assert sorted(event.details["to"].split(", ")) == MANAGERS
    assert "no smarthost" in event.details["reason"]
