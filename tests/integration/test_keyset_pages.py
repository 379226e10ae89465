"""Every list pages by key: forward and back, without gaps or repeats, on SQLite and
PostgreSQL; a cursor the list did not make is bad input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.core.pages import Page, PageRequest, encode_cursor
from mailward.errors import InvalidInput
from tests.support import World, accept_offers

OPERATOR = Actor.operator()
Read = Callable[[PageRequest], Awaitable[Page[Any]]]


async def all_pages(read: Read, limit: int) -> tuple[list[Any], list[Page[Any]]]:
    """Every page forward from the first, then back from the last: the same items."""
    pages = [await read(PageRequest(None, limit))]
    while pages[-1].next_cursor:
        pages.append(await read(PageRequest(pages[-1].next_cursor, limit)))
    forward = [i for p in pages for i in p.items]
    back = [pages[-1]]
    while back[-1].previous_cursor:
        back.append(await read(PageRequest(back[-1].previous_cursor, limit)))
    assert [i for p in reversed(back) for i in p.items] == forward
    assert pages[0].previous_cursor is None and back[-1].items == pages[0].items
    return forward, pages


async def test_devices_page_live_and_revoked_apart(world: World) -> None:
    devices = world.services.devices
    added = [await devices.add(world.admin, world.address, f"Phone {n}") for n in range(7)]
    for made in added[1:3]:
        await devices.revoke(world.admin, world.address, made.device.id)

    def read(revoked: bool) -> Read:
        return lambda request: devices.page(world.admin, world.address, revoked, request)

    live, pages = await all_pages(read(False), 2)
    assert [d.id for d in live] == [added[n].device.id for n in (0, 3, 4, 5, 6)]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    revoked, _ = await all_pages(read(True), 2)
    assert [d.status for d in revoked] == ["revoked", "revoked"]


async def test_the_audit_log_pages_newest_first_within_its_filter(world: World) -> None:
    for n in range(5):
        await world.services.devices.add(world.admin, world.address, f"Laptop {n}")
    query = AuditFilter(organization_id=world.org_id, action=str(AuditTag.DEVICE_ADD))

    async def read(request: PageRequest) -> Page[Any]:
        filtered = AuditFilter(**{**query.__dict__, "cursor": request.cursor, "limit": 2})
        return await world.services.audit.page(world.admin, filtered)

    events, _ = await all_pages(read, 2)
    assert len(events) == 5 and all(e.action == "device:add" for e in events)
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True)


async def test_mail_services_page_by_domain_with_their_address_counts(world: World) -> None:
    services = world.services
    for domain in ["c.test", "a.test", "b.test"]:
        await services.mail_services.create(OPERATOR, world.org_id, domain)
    await services.addresses.create(OPERATOR, "b.test", "sales")

    async def read(request: PageRequest) -> Page[Any]:
        return await services.mail_services.page(world.admin, world.org_id, request)

    listed, _ = await all_pages(read, 2)
    assert [m.domain for m in listed] == ["a.test", "b.test", "c.test", "example.test"]
    assert [m.address_count for m in listed] == [0, 1, 0, 1]
    assert await services.mail_services.counts(world.admin) == {world.org_id: 4}


async def test_addresses_page_in_order_with_search(world: World) -> None:
    services = world.services
    for local in ["sales", "support", "team", "supply"]:
        await services.addresses.create(world.admin, world.domain, local)
    first = await services.addresses.page(world.admin, world.domain, "sup", per_page=1)
    second = await services.addresses.page(world.admin, world.domain, "sup", first.next_cursor, 1)
    assert first.total == 2 and [a.email for a in first.items + second.items] == [
        "supply@example.test",
        "support@example.test",
    ]
    assert second.next_cursor is None and second.previous_cursor is not None


async def test_api_tokens_page_newest_first_in_the_callers_organization(world: World) -> None:
    tokens = world.services.api_tokens
    made = [await tokens.create(world.admin, world.org_id, f"panel {n}") for n in range(5)]
    await tokens.create(world.user, world.org_id, "not the admin's")

    async def read(request: PageRequest) -> Page[Any]:
        return await tokens.page(world.admin, request, world.org_id)

    listed, pages = await all_pages(read, 2)
    assert [t.id for t in listed] == [m.token.id for m in reversed(made)]
    assert [len(p.items) for p in pages] == [2, 2, 1]


async def test_pending_invitations_page_in_the_order_they_were_made(world: World) -> None:
    services = world.services
    await services.addresses.add_user(world.admin, world.address, world.user.label)
    await accept_offers(services, world.user)
    invitations = services.invitations
    made = [
        await invitations.create(world.admin, world.address, world.user.label, f"Phone {n}")
        for n in range(5)
    ]
    await invitations.cancel(world.admin, world.address, made[1].invitation.id)

    async def read(request: PageRequest) -> Page[Any]:
        return await invitations.page_pending(world.admin, world.address, request)

    pending, _ = await all_pages(read, 2)
    assert [i.id for i in pending] == [made[n].invitation.id for n in (0, 2, 3, 4)]


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", encode_cursor(("a", "b", "c"))])
async def test_a_cursor_the_list_did_not_make_is_refused(world: World, cursor: str) -> None:
    with pytest.raises(InvalidInput):
        await world.services.devices.page(world.admin, world.address, False, PageRequest(cursor))
