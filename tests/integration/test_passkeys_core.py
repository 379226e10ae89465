"""Passkeys in the core, on SQLite and PostgreSQL, with a software authenticator:
registered, listed, used, removed; challenges single use, short-lived and bound to one
browser; a clone's sign count going backwards is refused and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.passkeys.challenges import Ceremony
from mailward.core.passkeys.service import PasskeyRefused
from mailward.db.models import AuditEvent, Passkey
from mailward.errors import InvalidInput, NotFound
from tests.passkey_authenticator import SoftAuthenticator
from tests.support import World

BROWSER = "browser-cookie-value-1234567890"


def authenticator(services: Services) -> SoftAuthenticator:
    return SoftAuthenticator(services.passkeys.rp.id, services.passkeys.rp.origin)


async def registered(world: World, name: str = "Laptop") -> SoftAuthenticator:
    services, admin = world.services, world.admin
    key = authenticator(services)
    options = await services.passkeys.registration_options(admin.account_id or 0, BROWSER)
    await services.passkeys.register(
        admin, admin.account_id or 0, BROWSER, name, key.create(options)
    )
    return key


async def sign_in(services: Services, key: SoftAuthenticator, **kwargs: int) -> int:
    options = await services.passkeys.authentication_options(BROWSER, Ceremony.SIGN_IN, None)
    return await services.passkeys.check(
        BROWSER, Ceremony.SIGN_IN, key.get(options, **kwargs), "192.0.2.9"
    )


async def actions(services: Services) -> list[str]:
    async with services.db.unit_of_work() as uow:
        return list(await uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_a_registered_passkey_is_listed_and_signs_its_owner_in(
    world: World, clock: FrozenClock
) -> None:
    services = world.services
    key = await registered(world)
    clock.advance(timedelta(minutes=3))
    assert await sign_in(services, key) == world.admin.account_id
    (listed,) = await services.passkeys.list_for(world.admin.account_id or 0)
    assert (listed.name, listed.last_used_at) == ("Laptop", clock.now())
    assert "account:passkey_add" in await actions(services)


async def test_several_passkeys_per_account_and_removing_one_leaves_the_others(
    world: World,
) -> None:
    services, admin_id = world.services, world.admin.account_id or 0
    laptop = await registered(world, "Laptop")
    phone = await registered(world, "Phone")
    first, _ = await services.passkeys.list_for(admin_id)
    await services.passkeys.remove(world.admin, admin_id, first.id)
    assert [p.name for p in await services.passkeys.list_for(admin_id)] == ["Phone"]
    with pytest.raises(PasskeyRefused):
        await sign_in(services, laptop)
    assert await sign_in(services, phone) == admin_id
    assert "account:passkey_remove" in await actions(services)


async def test_another_accounts_passkey_cannot_be_removed(world: World) -> None:
    await registered(world)
    (passkey,) = await world.services.passkeys.list_for(world.admin.account_id or 0)
    with pytest.raises(NotFound):
        await world.services.passkeys.remove(world.user, world.user.account_id or 0, passkey.id)


async def test_a_cloned_passkey_whose_count_goes_backwards_is_refused_and_audited(
    world: World,
) -> None:
    services = world.services
    key = await registered(world)
    await sign_in(services, key)
    await sign_in(services, key)  # the stored count is now 2
    with pytest.raises(PasskeyRefused, match="copied"):
        await sign_in(services, key, sign_count=1)
    assert "account:passkey_cloned" in await actions(services)
    async with services.db.unit_of_work() as uow:
        assert await uow.session.scalar(select(Passkey.sign_count)) == 2


async def test_a_challenge_works_once(world: World) -> None:
    services = world.services
    key = await registered(world)
    options = await services.passkeys.authentication_options(BROWSER, Ceremony.SIGN_IN, None)
    answer = key.get(options)
    await services.passkeys.check(BROWSER, Ceremony.SIGN_IN, answer, None)
    with pytest.raises(PasskeyRefused, match="expired"):
        await services.passkeys.check(BROWSER, Ceremony.SIGN_IN, answer, None)


async def test_a_challenge_expires_and_belongs_to_its_browser(
    world: World, clock: FrozenClock
) -> None:
    services = world.services
    key = await registered(world)
    options = await services.passkeys.authentication_options(BROWSER, Ceremony.SIGN_IN, None)
    with pytest.raises(PasskeyRefused, match="expired"):
        await services.passkeys.check(
            "another-browser-cookie-xyz", Ceremony.SIGN_IN, key.get(options), None
        )
    options = await services.passkeys.authentication_options(BROWSER, Ceremony.SIGN_IN, None)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(PasskeyRefused, match="expired"):
        await services.passkeys.check(BROWSER, Ceremony.SIGN_IN, key.get(options), None)


async def test_signing_in_alone_needs_user_verification(world: World) -> None:
    services = world.services
    key = await registered(world)
    key.user_verified = False
    with pytest.raises(PasskeyRefused):
        await sign_in(services, key)
    options = await services.passkeys.authentication_options(
        BROWSER, Ceremony.SECOND_FACTOR, world.admin.account_id
    )
    answer = key.get(options)
    assert (
        await services.passkeys.check(BROWSER, Ceremony.SECOND_FACTOR, answer, None)
        == world.admin.account_id
    )


async def test_a_second_factor_challenge_accepts_only_that_accounts_passkey(world: World) -> None:
    services = world.services
    key = await registered(world)
    options = await services.passkeys.authentication_options(
        BROWSER, Ceremony.SECOND_FACTOR, world.user.account_id
    )
    with pytest.raises(PasskeyRefused, match="another account"):
        await services.passkeys.check(BROWSER, Ceremony.SECOND_FACTOR, key.get(options), None)


async def test_a_registration_needs_a_name_and_a_live_challenge(world: World) -> None:
    services, admin = world.services, world.admin
    key = authenticator(services)
    options = await services.passkeys.registration_options(admin.account_id or 0, BROWSER)
    with pytest.raises(InvalidInput, match="empty"):
        await services.passkeys.register(
            admin, admin.account_id or 0, BROWSER, "  ", key.create(options)
        )
    answer = key.create(options)
    await services.passkeys.register(admin, admin.account_id or 0, BROWSER, "Key", answer)
    with pytest.raises(InvalidInput, match="try again"):
        await services.passkeys.register(admin, admin.account_id or 0, BROWSER, "Key", answer)
    with pytest.raises(InvalidInput, match="could not be checked"):
        options = await services.passkeys.registration_options(admin.account_id or 0, BROWSER)
        await services.passkeys.register(admin, admin.account_id or 0, BROWSER, "Key", "{}")
