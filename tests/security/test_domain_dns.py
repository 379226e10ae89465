"""Domain verification against a real DNS server (dnsmasq started by the test): a claim
stays pending until its own record is published, then is verified; a wrong record, a
missing name, garbage, or a DNS server that never answers leave it pending with a clear
message; once verified, no other organization can claim the domain."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditFilter
from mailward.core.mailservices.domainproof import TxtAnswer
from mailward.core.mailservices.service import DomainTaken, MailServiceView
from tests.security.dns_server import DnsServer
from tests.support import ADMIN_PASSWORD, free_port, make_settings, open_services

OPERATOR = Actor.operator()
DOMAIN = "corp-a.test"
NAME = f"_mailward.{DOMAIN}"


@pytest.fixture
async def dns_services(
    tmp_path: Path, database_url: str, dns: DnsServer
) -> AsyncIterator[tuple[Services, FrozenClock]]:
    settings = make_settings(
        tmp_path,
        database_url,
        dns_resolvers=[dns.resolver],
        dns_timeout_seconds=1.0,
        domain_checks_per_pass=2,
    )
    clock = FrozenClock()
    services = await open_services(settings, clock)
    try:
        yield services, clock
    finally:
        await services.close()


async def _organization(services: Services, name: str, email: str) -> tuple[int, Actor]:
    account = await services.accounts.create(OPERATOR, email, ADMIN_PASSWORD, name)
    org = await services.organizations.create(OPERATOR, name, legal_representative=email)
    return org.id, Actor(account.id, email, "192.0.2.70")


async def _alices_claim(services: Services) -> tuple[Actor, MailServiceView]:
    """Org A, its legal representative Alice, and its pending claim of DOMAIN."""
    org_a, alice = await _organization(services, "Org A", "alice@org-a.test")
    return alice, await services.mail_services.create(alice, org_a, DOMAIN)


async def test_a_claim_is_verified_once_its_own_record_is_published(
    dns_services: tuple[Services, FrozenClock], dns: DnsServer
) -> None:
    services, _ = dns_services
    alice, claim = await _alices_claim(services)
    assert claim.record is not None and claim.record.name == NAME

    missing = await services.domain_checks.check(alice, claim.id)
    assert missing.state == "pending" and "does not exist" in missing.check_message

    dns.publish({NAME: ["mailward-verification=" + "0" * 32]})
    wrong = await services.domain_checks.check(alice, claim.id)
    assert wrong.state == "pending" and "different token" in wrong.check_message

    dns.publish({NAME: ["v=spf1 -all", claim.record.value]})
    verified = await services.domain_checks.check(alice, DOMAIN)
    assert verified.state == "verified" and verified.verified_at is not None
    assert await services.mail_services.is_local_domain(DOMAIN)

    actions = [
        e.action for e in await services.audit.list(alice, AuditFilter(claim.organization_id))
    ]
    assert actions.count("mail_service:verify_failure") == 2
    assert {"mail_service:claim", "mail_service:verify"} <= set(actions)


async def test_a_verified_domain_can_never_be_claimed_by_another_organization(
    dns_services: tuple[Services, FrozenClock], dns: DnsServer
) -> None:
    services, _ = dns_services
    org_a, alice = await _organization(services, "Org A", "alice@org-a.test")
    org_b, bob = await _organization(services, "Org B", "bob@org-b.test")
    b_claim = await services.mail_services.create(bob, org_b, DOMAIN)  # squatting first
    a_claim = await services.mail_services.create(alice, org_a, DOMAIN)
    assert a_claim.record is not None and b_claim.record is not None
    assert a_claim.record.value != b_claim.record.value

    dns.publish({NAME: [a_claim.record.value]})
    assert (await services.domain_checks.check(alice, a_claim.id)).state == "verified"
    assert await services.mail_services.list(bob, org_b) == []
    with pytest.raises(DomainTaken):
        await services.mail_services.create(bob, org_b, DOMAIN)
    with pytest.raises(DomainTaken):
        await services.mail_services.create(bob, org_b, DOMAIN.upper())


async def test_garbage_and_silent_dns_servers_leave_a_clear_pending_state(
    tmp_path: Path, database_url: str, dns: DnsServer
) -> None:
    dns.publish({NAME: ["\\000\\377 not a token", "mailward-verification="]})
    silent = f"127.0.0.1:{free_port()}"  # nothing answers there: the lookup times out
    cases = [([dns.resolver], "different token"), ([silent], "in time")]
    for i, (resolvers, expected) in enumerate(cases):
        settings = make_settings(
            tmp_path, database_url, dns_resolvers=resolvers, dns_timeout_seconds=0.5
        )
        services = await open_services(settings, FrozenClock())
        try:
            org, admin = await _organization(services, f"Org {i}", f"admin{i}@o.test")
            claim = await services.mail_services.create(admin, org, DOMAIN)
            view = await services.domain_checks.check(admin, claim.id)
            assert view.state == "pending" and expected in view.check_message, view
        finally:
            await services.close()


async def test_the_background_pass_is_bounded_and_backs_off(
    dns_services: tuple[Services, FrozenClock], dns: DnsServer
) -> None:
    services, clock = dns_services
    org, alice = await _organization(services, "Org A", "alice@org-a.test")
    claims = [await services.mail_services.create(alice, org, f"d{i}.test") for i in range(3)]
    assert await services.domain_checks.check_due() == 0  # not due before the interval
    clock.advance(timedelta(seconds=services.settings.domain_check_interval_seconds))
    assert await services.domain_checks.check_due() == 2  # at most per_pass a pass
    assert await services.domain_checks.check_due() == 1
    assert await services.domain_checks.check_due() == 0  # the failures wait longer now
    first = claims[0]
    assert first.record is not None
    dns.publish({first.record.name: [first.record.value]})
    clock.advance(timedelta(seconds=2 * services.settings.domain_check_interval_seconds))
    assert await services.domain_checks.check_due() == 2
    assert (await services.mail_services.get(alice, first.id)).state == "verified"


async def test_checks_of_one_claim_asked_at_once_share_one_dns_lookup(
    dns_services: tuple[Services, FrozenClock], dns: DnsServer
) -> None:
    services, _ = dns_services
    alice, claim = await _alices_claim(services)
    checks = services.domain_checks
    lookups = 0
    real_txt = checks.lookup.txt

    async def counted(name: str) -> TxtAnswer:
        nonlocal lookups
        lookups += 1
        await asyncio.sleep(0.5)  # a slow DNS server: every check arrives meanwhile
        return await real_txt(name)

    checks.lookup.txt = counted  # type: ignore[method-assign]
    views = await asyncio.gather(*(checks.check(alice, claim.id) for _ in range(20)))
    assert {v.state for v in views} == {"pending"}
    assert lookups == 1
