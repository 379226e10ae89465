"""Finding 2: an account taken over before its owner signs up. Org B made dave a user of
one of its addresses, sent him a setup assistant and, holding the link, chose dave's
password; when Org A made dave an administrator, B signed in as dave inside Org A.

Now the link never sets a password: the account's password takes a code mailed to
dave's own mailbox (here a real SMTP server standing in for the outside world, reached
through the smarthost), and A's offer gives nothing until dave, signed in, accepts."""

from __future__ import annotations

import asyncio
import email
from email import policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.access.grants import GrantService
from mailward.core.accounts.emailproof import CHECK_IP_LIMIT, new_code
from mailward.core.invitations.service import InvitationService
from mailward.db.models import Account, AuditEvent, EmailProof
from mailward.errors import NotFound
from mailward.settings import Settings
from tests.mailbox import code_in
from tests.smarthost import Collector, with_smarthost
from tests.support import ADMIN_PASSWORD, World
from tests.web_support import csrf_of, enrol_totp, sign_in, web_client

DAVE = "dave@partner.example"
DAVES_PASSWORD = "Orchard-Violet-Compass-71"
B_PASSWORD = "Intruder-Mallow-Beacon-55"


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


async def org_b(world: World) -> Actor:
    """Org B, its legal representative, its verified Mail Service b.test and
    shop@b.test."""
    services, op = world.services, Actor.operator()
    boss = await services.accounts.create(op, "boss@b.test", ADMIN_PASSWORD, "Bea Boss")
    org = await services.organizations.create(op, "Org B", legal_representative=boss.email)
    await services.mail_services.create(op, org.id, "b.test")
    await services.addresses.create_by_email(op, "shop@b.test")
    return Actor(boss.id, boss.email, "198.51.100.7")


async def daves_mail(world: World, outside: Collector) -> EmailMessage:
    worker = world.services.outbox.worker
    assert worker is not None
    await worker.run_once()
    await asyncio.wait_for(outside.received.wait(), 10)
    _, recipients, content = outside.messages[-1]
    assert recipients == [DAVE]
    message = email.message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def b_prepares_the_takeover(world: World, boss: Actor) -> str:
    """B adds dave to its own address and makes a setup link for him."""
    await world.services.addresses.add_user(boss, "shop@b.test", DAVE)
    invitations = InvitationService(world.services.deps, world.services.devices)
    return (await invitations.create(boss, "shop@b.test", DAVE, "Dave's phone")).token


async def test_the_link_holder_cannot_set_daves_password_only_his_mailbox_can(
    world: World, outside: Collector
) -> None:
    boss = await org_b(world)
    token = await b_prepares_the_takeover(world, boss)
    async with web_client(world.services) as b:  # B, holding the link, not signed in
        welcome = await b.get(f"/invite/{token}")
        assert welcome.status_code == 200 and 'type="password"' not in welcome.text
        old_form = await b.post(
            f"/invite/{token}/account",
            data={"csrf": csrf_of(welcome.text), "password": B_PASSWORD, "confirm": B_PASSWORD},
        )
        assert old_form.status_code in (404, 405)
        asked = await b.post(
            "/email-code",
            data={"csrf": csrf_of(welcome.text), "email": DAVE, "next": f"/invite/{token}"},
        )
        assert asked.status_code == 200 and "If dave@partner.example has" in asked.text
        message = await daves_mail(world, outside)
        code = code_in(message)
        assert code not in asked.text and code[:4] not in asked.text
        guess = "00000000" if code != "00000000" else "11111111"
        wrong = await b.post(
            "/email-code/password",
            data={"csrf": csrf_of(asked.text), "email": DAVE, "code": guess,
                  "password": B_PASSWORD, "confirm": B_PASSWORD},
        )  # fmt: skip
        assert wrong.status_code == 400 and "code is wrong" in wrong.text
    assert await world.services.accounts.verify_password(DAVE, B_PASSWORD) is None
    async with world.services.db.unit_of_work() as uow:
        dave = await uow.session.scalar(select(Account).where(Account.email == DAVE))
        assert dave is not None and dave.status == "invited" and dave.password_hash is None
        stored = list(await uow.session.scalars(select(EmailProof.code_hash)))
        assert stored and all(code.encode() not in h for h in stored)
    async with web_client(world.services) as dave_browser:  # dave, reading his mail
        page = await dave_browser.get(f"/invite/{token}")
        done = await dave_browser.post(
            "/email-code/password",
            data={"csrf": csrf_of(page.text), "email": DAVE, "code": code,
                  "password": DAVES_PASSWORD, "confirm": DAVES_PASSWORD,
                  "next": f"/invite/{token}"},
        )  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"].startswith(f"/login?next=/invite/{token}")
    assert await world.services.accounts.verify_password(DAVE, DAVES_PASSWORD) is not None


async def test_guessing_is_limited_per_network_and_never_locks_the_owner_out(
    world: World, outside: Collector
) -> None:
    boss = await org_b(world)
    token = await b_prepares_the_takeover(world, boss)
    async with web_client(world.services, client_ip="198.51.100.66") as b:
        page = await b.get(f"/invite/{token}")
        csrf = csrf_of(page.text)
        await b.post("/email-code", data={"csrf": csrf, "email": DAVE})
        code = code_in(await daves_mail(world, outside))
        form = {"csrf": csrf, "email": DAVE, "password": B_PASSWORD, "confirm": B_PASSWORD}
        statuses = []
        for _ in range(CHECK_IP_LIMIT.failures + 1):
            guess = new_code()  # a well-formed code; 2^-60 that it is Dave's
            statuses.append(
                (await b.post("/email-code/password", data={**form, "code": guess})).status_code
            )
        assert statuses == [400] * CHECK_IP_LIMIT.failures + [429]
        # Past the limit, B's network is refused even the right code...
        refused = await b.post("/email-code/password", data={**form, "code": code})
        assert refused.status_code == 429
    assert await world.services.accounts.verify_password(DAVE, B_PASSWORD) is None
    # ...while B's wrong tries did not lock Dave out: from his own network, his code works.
    async with web_client(world.services, client_ip="203.0.113.4") as dave:
        page = await dave.get("/email-code")
        done = await dave.post(
            "/email-code/password",
            data={"csrf": csrf_of(page.text), "email": DAVE, "code": code,
                  "password": DAVES_PASSWORD, "confirm": DAVES_PASSWORD},
        )  # fmt: skip
        assert done.status_code == 303
    assert await world.services.accounts.verify_password(DAVE, DAVES_PASSWORD) is not None


async def test_org_a_making_dave_administrator_waits_for_dave_to_accept(
    world: World, clock: FrozenClock
) -> None:
    services = world.services
    boss = await org_b(world)
    dave_view = await services.accounts.create(Actor.operator(), DAVE, DAVES_PASSWORD, "Dave")
    dave = Actor(dave_view.id, DAVE, "203.0.113.4")
    offered = await services.organizations.add_member(
        world.admin, world.org_id, DAVE, "administrator"
    )
    assert (offered.state, offered.display_name) == ("pending", "")
    with pytest.raises(NotFound):
        await services.organizations.get(dave, world.org_id)
    with pytest.raises(NotFound):
        await services.addresses.get(dave, world.address)
    [offer] = await GrantService(services.deps).pending_for(dave)
    with pytest.raises(NotFound):  # nobody else answers for dave, B least of all
        await GrantService(services.deps).accept(boss, offer.id)
    members = await services.organizations.members(world.admin, world.org_id)
    assert ("dave@partner.example", "pending") in [(m.email, m.state) for m in members]
    secret = await enrol_totp(services, dave.account_id or 0)
    async with web_client(services) as client:
        signed = await sign_in(client, DAVE, secret, clock, DAVES_PASSWORD)
        dashboard = await signed.get("/dashboard")
        assert "Administrator of Corp" in dashboard.text and 'id="pending-panel"' in dashboard.text
        accepted = await signed.post_form("/pending", f"/pending/{offer.id}/accept", {})
        assert accepted.status_code == 303
    assert (await services.organizations.get(dave, world.org_id)).role == "administrator"
    async with services.db.unit_of_work() as uow:
        actions = set(await uow.session.scalars(select(AuditEvent.action)))
    assert {"grant:offer", "grant:accept"} <= actions


async def test_daves_answer_decline_and_a_withdrawn_offer_give_nothing(world: World) -> None:
    services = world.services
    dave_view = await services.accounts.create(Actor.operator(), DAVE, DAVES_PASSWORD)
    dave = Actor(dave_view.id, DAVE)
    grants = GrantService(services.deps)
    await services.organizations.add_member(world.admin, world.org_id, DAVE, "administrator")
    [offer] = await grants.pending_for(dave)
    await grants.decline(dave, offer.id)
    with pytest.raises(NotFound):
        await grants.accept(dave, offer.id)
    await services.addresses.add_user(world.admin, world.address, DAVE)
    await services.addresses.remove_user(world.admin, world.address, DAVE)  # withdrawn
    assert await grants.pending_for(dave) == []
    with pytest.raises(NotFound):
        await services.organizations.get(dave, world.org_id)
    assert await services.addresses.users(world.admin, world.address) == []
