"""Setup-assistant invitations: single use, 30 days, cancel, re-send, hashed tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.accounts.emailproof import EmailProofService, ProofRequest
from mailward.core.audit.events import AuditTag
from mailward.core.invitations.service import (
    TOKEN_PURPOSE,
    InvitationForSomeoneElse,
    InvitationService,
    InvitationUnusable,
    NewInvitation,
)
from mailward.core.passwords import lookup_hash, suggest_password
from mailward.db.models import AuditEvent, Device, Invitation
from mailward.errors import InvalidInput, NotAllowed
from tests.mailbox import CapturingMailer
from tests.support import World, accept_offers


def invitations(world: World) -> InvitationService:
    return InvitationService(world.services.deps, world.services.devices)


async def invite_user(world: World, device: str = "Ursula's phone") -> NewInvitation:
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    return await invitations(world).create(world.admin, world.address, world.user.label, device)


async def test_a_link_has_at_least_128_bits_and_only_its_keyed_hash_is_stored(
    world: World,
) -> None:
    new = await invite_user(world)
    assert len(new.token) >= 43  # 32 random bytes, base64url
    async with world.services.db.unit_of_work() as uow:
        row = await uow.session.get(Invitation, new.invitation.id)
        assert row is not None
        assert row.token_hash == world.services.keys.mac(TOKEN_PURPOSE, new.token.encode())
        assert new.token.encode() not in row.token_hash
    assert new.token not in repr(new)
    assert new.link("https://mail.example.test/").endswith(f"/invite/{new.token}")


async def test_an_invitation_is_valid_for_30_days(world: World, clock: FrozenClock) -> None:
    new = await invite_user(world)
    assert new.invitation.expires_at - new.invitation.created_at == timedelta(days=30)
    clock.advance(timedelta(days=29, hours=23))
    assert (await invitations(world).open(new.token)).status == "pending"
    clock.advance(timedelta(hours=1))
    with pytest.raises(InvitationUnusable) as caught:
        await invitations(world).open(new.token)
    assert caught.value.reason == "expired"
    assert "Ask an administrator of Corp" in str(caught.value)
    assert "admin@corp.test" in str(caught.value)


async def test_redeeming_creates_the_users_device_once(world: World) -> None:
    new = await invite_user(world)
    suggestion = suggest_password(world.services.keys)
    created = await invitations(world).redeem(
        world.user, new.token, suggestion.password, suggestion.proof
    )
    assert created.password == suggestion.password
    assert created.device.user_email == world.user.label
    assert created.device.name == "Ursula's phone"
    async with world.services.db.unit_of_work() as uow:
        device = await uow.session.get(Device, created.device.id)
        assert device is not None and device.password_kind == "generated"
        assert device.password_lookup == lookup_hash(
            world.services.keys, device.address_id, created.password
        )
        actions = list(await uow.session.scalars(select(AuditEvent.action)))
    assert str(AuditTag.INVITATION_CREATE) in actions
    assert str(AuditTag.INVITATION_USE) in actions
    with pytest.raises(InvitationUnusable) as caught:
        await invitations(world).redeem(world.user, new.token)
    assert caught.value.reason == "used"
    assert "already been used" in str(caught.value)


async def test_only_the_invited_account_can_redeem(world: World) -> None:
    new = await invite_user(world)
    with pytest.raises(InvitationForSomeoneElse):
        await invitations(world).redeem(world.admin, new.token)
    assert (await invitations(world).open(new.token)).status == "pending"


async def test_a_cancelled_link_fails_and_leaves_the_pending_list(world: World) -> None:
    new = await invite_user(world)
    service = invitations(world)
    assert [i.id for i in await service.list_pending(world.admin, world.address)] == [
        new.invitation.id
    ]
    await service.cancel(world.admin, world.address, new.invitation.id)
    assert await service.list_pending(world.admin, world.address) == []
    with pytest.raises(InvitationUnusable) as caught:
        await service.redeem(world.user, new.token)
    assert caught.value.reason == "cancelled"


async def test_re_sending_makes_a_new_link_and_the_old_one_stops_working(
    world: World, clock: FrozenClock
) -> None:
    first = await invite_user(world)
    clock.advance(timedelta(days=20))
    second = await invitations(world).resend(world.admin, world.address, first.invitation.id)
    assert second.token != first.token
    assert second.invitation.expires_at == clock.now() + timedelta(days=30)
    with pytest.raises(InvitationUnusable) as caught:
        await invitations(world).open(first.token)
    assert caught.value.reason == "unknown"
    await invitations(world).redeem(world.user, second.token)


async def test_an_unknown_or_malformed_token_is_refused(world: World) -> None:
    for token in ("x", "A" * 43, "A" * 500):
        with pytest.raises(InvitationUnusable):
            await invitations(world).open(token)


async def test_only_managers_invite_and_only_users_of_the_address(world: World) -> None:
    with pytest.raises(InvalidInput):
        await invitations(world).create(world.admin, world.address, world.user.label, "Phone")
    await world.services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(world.services, world.user)
    with pytest.raises(NotAllowed):
        await invitations(world).create(world.user, world.address, world.user.label, "Phone")


async def test_a_new_person_proves_their_email_then_redeems_and_so_accepts(
    world: World,
) -> None:
    await world.services.addresses.add_user(world.admin, world.address, "newbie@corp.test")
    new = await invitations(world).create(world.admin, world.address, "newbie@corp.test", "Laptop")
    mailbox = CapturingMailer()
    proofs = EmailProofService(world.services.deps, mailbox, "mw@example.test", "https://mw")
    request = ProofRequest("newbie@corp.test", "192.0.2.9")
    message = await proofs.new_code(request)
    assert message is not None
    await proofs.send(message)
    assert mailbox.recipients() == ["newbie@corp.test"]
    await proofs.set_password(request, mailbox.code(), "tangerine-quartz-ladder-9")
    account = await world.services.accounts.verify_password(
        "newbie@corp.test", "tangerine-quartz-ladder-9"
    )
    assert account is not None and account.status == "active"
    created = await invitations(world).redeem(
        Actor(account.id, account.email, "192.0.2.9"), new.token
    )
    users = await world.services.addresses.users(world.admin, world.address)
    assert [(u.email, u.state) for u in users] == [("newbie@corp.test", "accepted")]
    assert created.device.user_email == "newbie@corp.test"
