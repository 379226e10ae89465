"""Finding 1: any organization could create a Mail Service for any domain not yet taken.

Org B created ``corp-a.example`` and ``carol@`` there; Org A's invitation "by email" to
carol@corp-a.example was delivered locally into Org B's mailbox, and Org B's device
logged in. Now Org B's Mail Service is a pending claim: its address receives nothing
locally, no email Mailward sends lands in it, its devices cannot log in, and the real
owner can still claim (and later verify) the domain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure
from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.addresses.service import find_local_address
from mailward.core.mailservices.domainchecks import DomainChecks
from mailward.core.mailservices.domainproof import TxtAnswer
from mailward.integrations.socketmap import DatabaseMailDirectory
from mailward.mail.directory import DatabaseDirectory
from mailward.mail.outbox import OutboxMailer, build_outbox
from tests.support import ADMIN_PASSWORD

OPERATOR = Actor.operator()
DOMAIN = "corp-a.example"
CAROL = f"carol@{DOMAIN}"


async def _organization(services: Services, name: str, email: str) -> tuple[int, Actor]:
    account = await services.accounts.create(OPERATOR, email, ADMIN_PASSWORD, name)
    org = await services.organizations.create(OPERATOR, name, legal_representative=email)
    return org.id, Actor(account.id, email, "192.0.2.50")


@pytest.fixture
async def squatter(services: Services) -> AsyncIterator[tuple[int, Actor, str]]:
    """Org B's pending claim of corp-a.example with carol@ and one device password."""
    org_id, bob = await _organization(services, "Org B", "bob@org-b.test")
    claim = await services.mail_services.create(bob, org_id, DOMAIN)
    assert claim.state == "pending"
    await services.addresses.create(bob, claim.id, "carol")
    new = await services.devices.add(
        bob, _address_id_of(await _addresses(services, bob, claim.id)), "B's laptop"
    )
    yield org_id, bob, new.password


async def _addresses(services: Services, actor: Actor, mail_service_id: int) -> list[int]:
    page = await services.addresses.page(actor, mail_service_id)
    return [a.id for a in page.items]


def _address_id_of(ids: list[int]) -> int:
    assert len(ids) == 1
    return ids[0]


class PublishedTxt:
    def __init__(self, *texts: str) -> None:
        self.texts = texts

    async def txt(self, name: str) -> TxtAnswer:
        return TxtAnswer(self.texts)


async def test_a_claim_by_another_organization_is_pending_with_its_own_record(
    services: Services, squatter: tuple[int, Actor, str]
) -> None:
    org_id, bob, _ = squatter
    (view,) = await services.mail_services.list(bob, org_id)
    assert view.state == "pending" and view.verified_at is None
    assert view.record is not None
    assert view.record.name == f"_mailward.{DOMAIN}" and view.record.type == "TXT"
    assert view.record.value.startswith("mailward-verification=")


async def test_the_pending_domain_gets_no_local_delivery(
    services: Services, squatter: tuple[int, Actor, str]
) -> None:
    directory = DatabaseDirectory(services.db, services.mail_services)
    assert not await directory.is_local_domain(DOMAIN)  # inbound SMTP: not our domain
    assert await directory.address_id(CAROL) is None  # submission: relayed, not local
    postfix = DatabaseMailDirectory(services.db)
    assert not await postfix.is_local_domain(DOMAIN)
    assert await postfix.address(CAROL) is None
    async with services.db.unit_of_work() as uow:
        assert await find_local_address(uow.session, CAROL) is None


async def test_an_invitation_to_carol_never_lands_in_the_squatters_mailbox(
    services: Services, squatter: tuple[int, Actor, str]
) -> None:
    message = EmailMessage()
    message["From"] = services.settings.sender_address
    message["To"] = CAROL
    message["Subject"] = "Your setup assistant for info@a.test"
    message.set_content("https://manager.example/assistant/secret-link")
    result = await OutboxMailer(build_outbox(services)).send(message)
    assert result.delivered == []
    assert CAROL in result.undelivered + result.queued  # where the real MX says, or nowhere
    delivered = [p for p in Path(services.settings.mail_dir).rglob("*") if p.is_file()]
    assert delivered == []


async def test_the_squatters_devices_cannot_log_in(
    services: Services, squatter: tuple[int, Actor, str], auth: Authenticator
) -> None:
    _, _, password = squatter
    for protocol in ("imap", "pop3", "smtp"):
        result = await auth.authenticate(CAROL, password, protocol, "192.0.2.60")
        assert isinstance(result, AuthFailure), result


async def test_the_squatter_does_not_block_the_real_owner_who_then_wins(
    services: Services, squatter: tuple[int, Actor, str], auth: Authenticator
) -> None:
    b_org, bob, password = squatter
    a_org, alice = await _organization(services, "Org A", "alice@org-a.test")
    real = await services.mail_services.create(alice, a_org, DOMAIN)
    assert real.state == "pending" and real.record is not None
    # Org A publishes its record (the lookup is faked here; the real DNS check runs
    # against a real DNS server in test_domain_dns.py).
    checks = DomainChecks(services.deps, PublishedTxt(real.record.value))
    assert (await checks.check(alice, real.id)).state == "verified"
    assert await services.mail_services.list(bob, b_org) == []  # B's claim is gone
    result = await auth.authenticate(CAROL, password, "imap", "192.0.2.60")
    assert isinstance(result, AuthFailure) and not isinstance(result, AuthenticatedDevice)
    with pytest.raises(Exception, match="already in use"):
        await services.mail_services.create(bob, b_org, DOMAIN)
