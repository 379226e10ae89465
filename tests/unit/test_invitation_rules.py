"""Setup assistants: a link for one user of an address to obtain one device's password."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailward.core.invitations.service import (
    InvitationForSomeoneElse,
    InvitationService,
    InvitationUnusable,
    NewInvitation,
)
from mailward.errors import InvalidInput, NotAllowed
from tests.support import accept_offers
from tests.unit.fakes import Core


def invitations(core: Core) -> InvitationService:
    return InvitationService(core.deps, core.devices)


async def invite_user(core: Core) -> NewInvitation:
    await core.addresses.add_user(core.admin, core.address, core.user.label)
    return await invitations(core).create(core.admin, core.address, core.user.label, "Phone")


async def test_a_link_is_valid_for_30_days_and_then_says_whom_to_ask(core: Core) -> None:
    new = await invite_user(core)
    core.clock.advance(timedelta(days=29, hours=23))
    assert (await invitations(core).open(new.token)).status == "pending"
    core.clock.advance(timedelta(hours=1))
    with pytest.raises(InvitationUnusable, match="Ask an administrator of Corp") as caught:
        await invitations(core).open(new.token)
    assert caught.value.reason == "expired"


async def test_redeeming_gives_the_invited_user_their_device_once(core: Core) -> None:
    new = await invite_user(core)
    created = await invitations(core).redeem(core.user, new.token)
    assert (created.device.name, created.device.user_email) == ("Phone", core.user.label)
    with pytest.raises(InvitationUnusable) as caught:
        await invitations(core).redeem(core.user, new.token)
    assert caught.value.reason == "used"


async def test_redeeming_accepts_the_address_it_was_sent_for(core: Core) -> None:
    new = await invite_user(core)
    await invitations(core).redeem(core.user, new.token)
    users = await core.addresses.users(core.admin, core.address)
    assert [(u.email, u.state) for u in users] == [(core.user.label, "accepted")]


async def test_only_the_invited_account_redeems_the_link(core: Core) -> None:
    new = await invite_user(core)
    with pytest.raises(InvitationForSomeoneElse):
        await invitations(core).redeem(core.admin, new.token)
    assert (await invitations(core).open(new.token)).status == "pending"


async def test_a_cancelled_link_leaves_the_pending_list_and_works_no_more(core: Core) -> None:
    new = await invite_user(core)
    await invitations(core).cancel(core.admin, core.address, new.invitation.id)
    assert await invitations(core).list_pending(core.admin, core.address) == []
    with pytest.raises(InvitationUnusable) as caught:
        await invitations(core).redeem(core.user, new.token)
    assert caught.value.reason == "cancelled"


async def test_re_sending_makes_a_new_link_and_the_old_one_stops_working(core: Core) -> None:
    first = await invite_user(core)
    core.clock.advance(timedelta(days=20))
    second = await invitations(core).resend(core.admin, core.address, first.invitation.id)
    assert second.invitation.expires_at == core.clock.now() + timedelta(days=30)
    with pytest.raises(InvitationUnusable):
        await invitations(core).open(first.token)
    await invitations(core).redeem(core.user, second.token)


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 500, "", "../../etc"])
async def test_an_unknown_or_malformed_token_is_refused(core: Core, token: str) -> None:
    with pytest.raises(InvitationUnusable):
        await invitations(core).open(token)


async def test_only_managers_invite_and_only_users_of_the_address(core: Core) -> None:
    with pytest.raises(InvalidInput):
        await invitations(core).create(core.admin, core.address, core.user.label, "Phone")
    await core.addresses.add_user(core.admin, core.address, core.user.label)
    await accept_offers(core, core.user)
    with pytest.raises(NotAllowed):
        await invitations(core).create(core.user, core.address, core.user.label, "Phone")
