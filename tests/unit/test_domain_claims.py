"""Domain claims: a manager's Mail Service is pending until its own TXT record is seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from mailward.core.access.actors import Actor
from mailward.core.mailservices.domainchecks import DomainChecks
from mailward.core.mailservices.domainproof import DnsProblem, TxtAnswer, record_name
from mailward.core.mailservices.service import DomainTaken, MailServiceView
from mailward.errors import AlreadyExists, NotAllowed, NotFound
from tests.unit.fakes import PASSWORD, Core, ScriptedDns

DOMAIN = "partner.example"


async def second_org(core: Core) -> Actor:
    op = Actor.operator()
    boss = await core.accounts.create(op, "boss@b.test", PASSWORD, "Bea Boss")
    await core.organizations.create(op, "Org B", legal_representative=boss.email)
    return Actor(boss.id, boss.email, "198.51.100.7")


@dataclass
class Rivals:
    """Corp's and Org B's claims of one domain, each with its own record."""

    boss: Actor
    ours: MailServiceView
    theirs: MailServiceView

    def record_of(self, claim: MailServiceView) -> str:
        assert claim.record is not None
        return claim.record.value


async def rival_claims(core: Core) -> Rivals:
    boss = await second_org(core)
    [org_b] = await core.organizations.list_for(boss)
    ours = await core.mail_services.create(core.admin, core.org_id, DOMAIN)
    theirs = await core.mail_services.create(boss, org_b.id, DOMAIN)
    return Rivals(boss, ours, theirs)


def publish(dns: ScriptedDns, domain: str, value: str) -> None:
    dns.answers[record_name(domain)] = TxtAnswer(texts=(value,))


async def test_a_managers_claim_is_pending_with_a_record_to_publish(core: Core) -> None:
    claim = await core.mail_services.create(core.admin, core.org_id, DOMAIN)
    assert claim.state == "pending" and claim.record is not None
    assert claim.record.name == record_name(DOMAIN)
    assert not await core.mail_services.is_local_domain(DOMAIN)


async def test_the_operators_mail_service_is_verified_at_once(core: Core) -> None:
    created = await core.mail_services.create(Actor.operator(), core.org_id, DOMAIN)
    assert created.state == "verified" and created.record is None
    assert await core.mail_services.is_local_domain(DOMAIN)


async def test_each_claim_has_its_own_token(core: Core) -> None:
    rivals = await rival_claims(core)
    assert rivals.record_of(rivals.ours) != rivals.record_of(rivals.theirs)


async def test_anothers_record_does_not_prove_a_claim(core: Core) -> None:
    dns, rivals = ScriptedDns(), await rival_claims(core)
    publish(dns, DOMAIN, rivals.record_of(rivals.ours))
    checked = await DomainChecks(core.deps, dns).check(rivals.boss, rivals.theirs.id)
    assert checked.state == "pending" and "different token" in (checked.check_message or "")


async def test_the_first_to_prove_wins_and_the_rival_claims_go(core: Core) -> None:
    dns, rivals = ScriptedDns(), await rival_claims(core)
    publish(dns, DOMAIN, rivals.record_of(rivals.theirs))
    checks = DomainChecks(core.deps, dns)
    assert (await checks.check(rivals.boss, rivals.theirs.id)).state == "verified"
    with pytest.raises(NotFound):
        await core.mail_services.get(core.admin, rivals.ours.id)
    with pytest.raises(DomainTaken):
        await core.mail_services.create(core.admin, core.org_id, DOMAIN)


async def test_a_dns_failure_leaves_the_claim_pending_and_says_why(core: Core) -> None:
    dns = ScriptedDns({record_name(DOMAIN): TxtAnswer(problem=DnsProblem.SERVFAIL)})
    claim = await core.mail_services.create(core.admin, core.org_id, DOMAIN)
    checked = await DomainChecks(core.deps, dns).check(core.admin, claim.id)
    assert checked.state == "pending" and "SERVFAIL" in (checked.check_message or "")


async def test_the_background_pass_checks_only_claims_that_are_due(core: Core) -> None:
    dns = ScriptedDns()
    await core.mail_services.create(core.admin, core.org_id, DOMAIN)
    checks = DomainChecks(core.deps, dns, interval_seconds=300)
    core.clock.advance(timedelta(seconds=301))
    assert await checks.check_due() == 1
    assert await checks.check_due() == 0  # a failure pushes the next check back
    assert dns.asked == [record_name(DOMAIN)]


async def test_one_organization_claims_a_domain_once(core: Core) -> None:
    await core.mail_services.create(core.admin, core.org_id, DOMAIN)
    with pytest.raises(AlreadyExists):
        await core.mail_services.create(core.admin, core.org_id, DOMAIN.upper())


async def test_a_user_member_claims_no_domain(core: Core) -> None:
    with pytest.raises(NotAllowed):
        await core.mail_services.create(core.user, core.org_id, DOMAIN)
