"""Setup-assistant invitations: single use, 30 days, cancel, re-send, hashed tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.accounts.emailproof import EmailProofService, ProofRequest
from mailward.core.audit.events import AuditTag
from mailward.core.invitations.service import (
    TOKEN_PURPOSE,
    InvitationService,
    InvitationUnusable,
    NewInvitation,
)
from mailward.core.passwords import lookup_hash, suggest_password
from mailward.db.models import AuditEvent, Device, Invitation
from tests.mailbox import CapturingMailer
from tests.support import World


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
