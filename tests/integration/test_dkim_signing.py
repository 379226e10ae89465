"""Mail submitted by a device is DKIM-signed once, for local delivery and the smarthost
alike, and verifies with dkimpy against the keys published in a real DNS server; after a
rotation new mail uses the new selectors and old mail still verifies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import dkim
import dns.exception
import dns.resolver
import pytest

from mailward.core.access.actors import Actor
from mailward.settings import Settings
from tests.integration.mail_world import OTHER, MailWorld, message, submission
from tests.security.dns_server import DnsServer
from tests.smarthost import Collector, with_smarthost
from tests.support import wait_until

REMOTE = "someone@elsewhere.test"
OP = Actor.operator()


@pytest.fixture
def settings(settings: Settings, smarthost_port: int) -> Settings:
    return with_smarthost(settings, smarthost_port)


def txt_lookup(server: DnsServer) -> Callable[..., bytes | None]:
    """dkimpy's ``dnsfunc``: TXT records asked of the test's DNS server (dnspython)."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = server.port
        resolver.lifetime = timeout
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except dns.exception.DNSException:
            return None
        return b"".join(answer[0].strings)  # type: ignore[attr-defined, no-any-return]

    return lookup


async def publish_keys(mail: MailWorld, server: DnsServer) -> None:
    """Every key of example.test (active and retired) in the zone, as the DNS page says."""
    keys = await mail.services.dkim.list_keys(OP, mail.world.domain)
    server.publish({k.record_name.rstrip("."): [k.record_value] for k in keys})


def submit(mail: MailWorld, subject: str, author: str | None = None) -> None:
    """A message to bob and REMOTE, sent as the world's address; ``author``: its From."""
    client = submission(mail.ports.submission)
    try:
        client.login(mail.world.address, mail.passwords["laptop"])
        content = message(author or mail.world.address, f"{OTHER}, {REMOTE}", subject)
        client.sendmail(mail.world.address, [OTHER, REMOTE], content)
    finally:
        client.quit()


def verified_selectors(content: bytes, lookup: Callable[..., bytes | None]) -> list[str]:
    """The selector of each signature, after checking that every one verifies, is made by
    the From domain (DMARC alignment) and signs the From header."""
    signatures = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", content, re.M | re.S)
    assert len(signatures) == 2
    checker = dkim.DKIM(content)
    selectors = []
    for index, signature in enumerate(signatures):
        assert checker.verify(idx=index, dnsfunc=lookup), checker.domain
        tags = dict(
            t.strip().split(b"=", 1) for t in re.sub(rb"\s", b"", signature)[15:].split(b";") if t
        )
        assert tags[b"d"] == b"example.test" and tags[b"c"] == b"relaxed/relaxed"
        assert b"from" in tags[b"h"].lower().split(b":")
        selectors.append(tags[b"s"].decode())
    return selectors


def delivered_to_bob(mail: MailWorld, bob_id: int) -> list[bytes]:
    inbox = Path(mail.server.store.inbox_path(bob_id)) / "new"
    return [p.read_bytes() for p in sorted(inbox.iterdir(), key=lambda p: p.stat().st_mtime)]


async def test_submitted_mail_is_signed_and_verifies_against_the_published_keys(
    mail: MailWorld, outside: Collector, dns: DnsServer
) -> None:
    await publish_keys(mail, dns)
    lookup = txt_lookup(dns)
    bob_id = await mail.server.directory.address_id(OTHER)
    assert bob_id is not None

    await asyncio.to_thread(submit, mail, "before rotation")
    await asyncio.wait_for(outside.received.wait(), 10)
    remote_first = outside.messages[0][2]
    local_first = delivered_to_bob(mail, bob_id)[0]
    first_selectors = await asyncio.to_thread(verified_selectors, remote_first, lookup)
    assert await asyncio.to_thread(verified_selectors, local_first, lookup) == first_selectors
    assert [s[-1] for s in first_selectors] == ["r", "e"]

    await mail.services.dkim.rotate(OP, mail.world.domain)
    await publish_keys(mail, dns)
    outside.received.clear()
    await asyncio.to_thread(submit, mail, "after rotation")
    await wait_until(lambda: len(outside.messages) == 2, what="the second message")
    remote_second = outside.messages[1][2]
    second_selectors = await asyncio.to_thread(verified_selectors, remote_second, lookup)
    assert not set(second_selectors) & set(first_selectors)
    active = {
        k.selector for k in await mail.services.dkim.list_keys(OP, "example.test") if k.active
    }
    assert set(second_selectors) == active
    # mail signed before the rotation still verifies: the retired keys stay published
    assert await asyncio.to_thread(verified_selectors, remote_first, lookup) == first_selectors


async def test_mail_whose_from_is_on_another_domain_is_not_signed(
    mail: MailWorld, outside: Collector
) -> None:
    # other.test is a Mail Service of this server with keys of its own: a device of
    # example.test must not get its signature, nor example.test's on another From
    await mail.services.mail_services.create(OP, mail.world.org_id, "other.test")
    assert await mail.services.dkim.list_keys(OP, "other.test")
    bob_id = await mail.server.directory.address_id(OTHER)
    assert bob_id is not None
    await asyncio.to_thread(submit, mail, "not mine", "someone@other.test")
    await asyncio.wait_for(outside.received.wait(), 10)
    [(_, _, remote)] = outside.messages
    [local] = delivered_to_bob(mail, bob_id)
    assert b"From: <someone@other.test>" in remote
    assert b"DKIM-Signature" not in remote and b"DKIM-Signature" not in local
