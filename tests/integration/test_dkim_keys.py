"""DKIM keys of a Mail Service: made when it is verified, sealed at rest, rotated, removed,
and the records of every key a domain needs."""

from __future__ import annotations

import dkim
import pytest
from sqlalchemy import select

from mailward.core.access.actors import Actor
from mailward.core.mailservices.dkim_keys import SEAL_PURPOSE
from mailward.core.mailservices.dns_records import dns_records
from mailward.db.models import DkimKey
from mailward.errors import Conflict, InvalidInput, NotAllowed, NotFound
from mailward.settings import Settings
from tests.support import World

OP = Actor.operator()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The manager on a host name, so that the records may name it (never an address)."""
    return settings.model_copy(update={"public_url": "https://mail.example.test"})


async def test_a_verified_mail_service_has_an_rsa_and_an_ed25519_key_named_by_date(
    world: World,
) -> None:
    keys = await world.services.dkim.list_keys(OP, world.domain)
    day = f"{world.services.clock.now():%Y%m%d}"
    assert [(k.selector, k.algorithm, k.active) for k in keys] == [
        (f"mw{day}r", "rsa", True),
        (f"mw{day}e", "ed25519", True),
    ]
    assert keys[0].record_name == f"mw{day}r._domainkey.example.test."
    assert keys[0].record_value.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
    assert keys[1].record_value.startswith("v=DKIM1; k=ed25519; p=")


async def test_private_keys_are_sealed_in_the_database(world: World) -> None:
    signing = await world.services.dkim.signing_keys(world.domain)
    async with world.services.db.unit_of_work() as uow:
        rows = list(await uow.session.scalars(select(DkimKey)))
    assert len(rows) == 2
    for row in rows:
        assert "PRIVATE" not in row.private_key_sealed
        pem = world.services.keys.unseal(SEAL_PURPOSE, row.private_key_sealed)
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        assert pem.decode() not in row.private_key_sealed
    assert {s.selector for s in signing} == {r.selector for r in rows}
    assert "PRIVATE" not in repr(signing)


async def test_a_signature_with_each_active_key_verifies_against_its_record(
    world: World,
) -> None:
    keys = await world.services.dkim.list_keys(OP, world.domain)
    published = {f"{k.selector}._domainkey.{k.domain}.": k.record_value for k in keys}
    message = b"From: info@example.test\r\nTo: x@elsewhere.test\r\nSubject: hi\r\n\r\nHello\r\n"
    for key in await world.services.dkim.signing_keys(world.domain):
        signature = dkim.sign(
            message,
            key.selector.encode(),
            key.domain.encode(),
            key.dkimpy_private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=key.signature_algorithm,
        )

        def lookup(name: bytes, timeout: int = 5) -> bytes:
            return published.get(name.decode(), "").encode()

        assert dkim.verify(signature + message, dnsfunc=lookup)


async def test_rotation_makes_a_new_active_pair_and_retires_the_old_one(world: World) -> None:
    first = await world.services.dkim.list_keys(OP, world.domain)
    after = await world.services.dkim.rotate(world.admin, world.domain)
    active = [k.selector for k in after if k.active]
    retired = [k.selector for k in after if not k.active]
    assert retired == [k.selector for k in first]
    assert len(active) == 2 and not set(active) & set(retired)
    assert all(s.endswith(("r2", "e2")) for s in active)  # the same day: a second name
    signing = await world.services.dkim.signing_keys(world.domain)
    assert {k.selector for k in signing} == set(active)


async def test_only_a_retired_selector_can_be_removed(world: World) -> None:
    first = await world.services.dkim.list_keys(OP, world.domain)
    with pytest.raises(Conflict, match="rotate"):
        await world.services.dkim.remove(OP, world.domain, first[0].selector)
    await world.services.dkim.rotate(OP, world.domain)
    removed = await world.services.dkim.remove(OP, world.domain, first[0].selector)
    assert removed.selector == first[0].selector
    left = {k.selector for k in await world.services.dkim.list_keys(OP, world.domain)}
    assert first[0].selector not in left and first[1].selector in left
    with pytest.raises(NotFound):
        await world.services.dkim.remove(OP, world.domain, first[0].selector)
    with pytest.raises(InvalidInput):
        await world.services.dkim.remove(OP, world.domain, "no such; selector")


async def test_a_member_without_rights_cannot_rotate(world: World) -> None:
    with pytest.raises((NotAllowed, NotFound)):
        await world.services.dkim.rotate(world.user, world.domain)


async def test_a_pending_claim_has_no_keys_and_cannot_rotate(world: World) -> None:
    claim = await world.services.mail_services.create(world.admin, world.org_id, "pending.test")
    assert claim.state == "pending"
    assert await world.services.dkim.list_keys(world.admin, "pending.test") == []
    assert await world.services.dkim.signing_keys("pending.test") == []
    with pytest.raises(Conflict, match="not verified"):
        await world.services.dkim.rotate(world.admin, "pending.test")


async def test_the_records_list_every_record_a_mail_service_needs(world: World) -> None:
    _, records = await world.services.dns_records.records(world.admin, world.domain)
    by_name = {(r.name, r.type): r.value for r in records}
    d = "example.test."
    assert by_name[(d, "MX")] == "10 localhost."
    assert by_name[(d, "TXT")] == "v=spf1 mx a:localhost -all"
    assert by_name[(f"_dmarc.{d}", "TXT")].startswith("v=DMARC1; p=quarantine; rua=mailto:")
    assert "postmaster@example.test" in by_name[(f"_dmarc.{d}", "TXT")]
    assert by_name[(f"_mta-sts.{d}", "TXT")].startswith("v=STSv1; id=")
    assert (f"mta-sts.{d}", "CNAME") in by_name
    assert by_name[(f"_smtp._tls.{d}", "TXT")] == "v=TLSRPTv1; rua=mailto:postmaster@example.test"
    assert (f"_imaps._tcp.{d}", "SRV") in by_name and (f"autoconfig.{d}", "CNAME") in by_name
    dkim_names = [r.name for r in records if r.name.endswith(f"._domainkey.{d}")]
    assert len(dkim_names) == 2
    assert records == dns_records(
        world.services.settings, d[:-1], await world.services.dkim.list_keys(OP, d[:-1])
    )


async def test_a_long_txt_record_is_split_into_quoted_strings_in_the_zone_line(
    world: World,
) -> None:
    _, records = await world.services.dns_records.records(OP, world.domain)
    rsa = next(r for r in records if "k=rsa" in r.value)
    data = rsa.zone_line.split(" IN TXT ", 1)[1]
    strings = [s.strip('"') for s in data.split('" "')]
    assert len(strings) == 2 and all(len(s) <= 255 for s in strings)
    assert "".join(strings) == rsa.value
