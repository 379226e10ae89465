"""Finding 6: names and duplicates. One validation for every entry point (web form, API,
core), matching the whole string; the same suggestion twice, or two requests racing to
create the same thing, answer a clear 4xx, never a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from mailward.clock import FrozenClock
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.core.names import clean_name, normalize_domain, normalize_email, normalize_local_part
from mailward.errors import AlreadyExists, Conflict, InvalidInput
from tests.support import World
from tests.web_support import csrf_of, signed_in_admin, web_client

CONTROL_DOMAINS = ["lf\n.test", "example.test\n", "ex\x00ample.test", "a\u202e.test", "a\t.test"]


@pytest.mark.parametrize("domain", [*CONTROL_DOMAINS, "x" * 300 + ".test"])
def test_a_domain_with_a_control_character_or_too_long_is_refused(domain: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_domain(domain)


@pytest.mark.parametrize("value", ["info\n", "in\x00fo", "info\r", "a\u2028b"])
def test_local_parts_and_emails_match_as_a_whole(value: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_local_part(value)
    with pytest.raises(InvalidInput):
        normalize_email(f"{value}@example.test")


@pytest.mark.parametrize("name", ["Laptop\nBCC: x", "Phone\x7f", "Tab\there", "evil\u202eexe.txt"])
def test_a_device_name_with_a_control_character_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="control character"):
        clean_name(name, "device name")


def test_ordinary_names_still_pass() -> None:
    assert normalize_domain(" Exämple.CH. ") == "xn--exmple-cua.ch"
    assert clean_name("  Anna's   laptop 👩\u200d💻 ") == "Anna's laptop 👩\u200d💻"
    assert normalize_email("Info@Example.TEST") == "info@example.test"


async def _admin_client(world: World, clock: FrozenClock) -> httpx.AsyncClient:
    return (await signed_in_admin(world, clock)).client


async def test_the_web_form_refuses_a_domain_with_a_newline(
    world: World, clock: FrozenClock
) -> None:
    client = await _admin_client(world, clock)
    page = await client.get("/mail-services")
    response = await client.post(
        f"/orgs/{world.org_id}/mail-services",
        data={"csrf": csrf_of(page.text), "domain": "lf\n.test"},
    )
    await client.aclose()
    assert response.status_code == 400
    assert "control character" in response.text
    listed = await world.services.mail_services.list(world.admin, world.org_id)
    assert [m.domain for m in listed] == ["example.test"]


async def test_the_api_refuses_names_with_control_characters(world: World) -> None:
    issued = await ApiTokenService(world.services.deps).create(
        world.admin, world.org_id, "names test", None
    )
    headers = {"Authorization": f"Bearer {issued.secret}"}
    address = await world.services.addresses.get(world.admin, world.address)
    mail_service = await world.services.mail_services.get(world.admin, world.domain)
    calls = [
        (f"/organizations/{world.org_id}/mail-services", {"domain": "lf\n.test"}),
        (f"/organizations/{world.org_id}/mail-services", {"domain": "a\u202e.test"}),
        (f"/mail-services/{mail_service.id}/addresses", {"local_part": "sales\u0085"}),
        (f"/addresses/{address.id}/devices", {"name": "Phone\u2028two"}),
    ]
    async with web_client(world.services) as client:
        for path, body in calls:
            response = await client.post(f"/api/v1{path}", json=body, headers=headers)
            assert response.status_code == 422, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
    assert await world.services.devices.list(world.admin, address.id) == []


async def test_the_same_suggested_password_sent_twice_is_refused_with_a_fresh_one(
    world: World, clock: FrozenClock
) -> None:
    client = await _admin_client(world, clock)
    aid = (await world.services.addresses.get(world.admin, world.address)).id
    new = f"/addresses/{aid}/devices/new"
    page = await client.get(new)
    form = {
        "csrf": csrf_of(page.text),
        "password": _field(page.text, "password"),
        "proof": _field(page.text, "proof"),
    }
    first = await client.post(new, data={**form, "name": "Laptop"})
    second = await client.post(new, data={**form, "name": "Laptop, again"})
    await client.aclose()
    assert first.status_code == 200
    assert second.status_code == 400
    assert "already used for a device" in second.text
    assert _field(second.text, "password") != form["password"]
    devices = await world.services.devices.list(world.admin, aid)
    assert [d.name for d in devices] == ["Laptop"]


async def test_the_same_suggestion_through_the_core_is_a_conflict(world: World) -> None:
    from mailward.core.passwords import suggest_password

    suggestion = suggest_password(world.services.keys)
    devices = world.services.devices
    await devices.add(world.admin, world.address, "A", None, *_pair(suggestion))
    with pytest.raises(Conflict, match="already used"):
        await devices.add(world.admin, world.address, "B", None, *_pair(suggestion))


async def test_racing_creations_of_one_address_give_one_address_and_clear_errors(
    world: World,
) -> None:
    ms = await world.services.mail_services.get(world.admin, world.domain)
    create = world.services.addresses.create
    results = await asyncio.gather(
        *(create(world.admin, ms.id, "sales") for _ in range(6)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert all(isinstance(r, AlreadyExists | Conflict) for r in refused), refused


def _pair(suggestion: object) -> tuple[str, str]:
    return suggestion.password, suggestion.proof  # type: ignore[attr-defined]


def _field(html: str, name: str) -> str:
    import re

    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert found, f"no field {name}"
    return found.group(1)


async def test_racing_devices_of_one_name_give_one_device_and_clear_errors(
    world: World,
) -> None:
    add = world.services.devices.add
    results = await asyncio.gather(
        *(add(world.admin, world.address, "Front desk") for _ in range(6)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert all(isinstance(r, AlreadyExists | Conflict) for r in refused), refused
    names = [d.name for d in await world.services.devices.list(world.admin, world.address)]
    assert names.count("Front desk") == 1
