"""Personal API tokens through the API: shown once, managed, rate-limited, and every
action through them audited with the person and the IP (their rules: tests/unit/
test_api_token_rules.py)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from mailward.db.models import AuditEvent
from mailward.limitstore import MemoryRateLimitStore
from mailward.web.api.limits import ApiRateLimiter, Limit
from tests.integration.api_world import ApiWorld, api_app


async def test_api_actions_are_audited_as_the_person_with_the_client_ip(api: ApiWorld) -> None:
    created = await api.call("admin", "POST", "/addresses/{addr}/devices", {"name": "CRM"})
    assert created.status_code == 201
    async with api.world.services.db.unit_of_work() as uow:
        event = (
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "device:add"))
        ).all()[-1]
    assert (event.actor, event.actor_ip) == ("admin@corp.test", "127.0.0.1")
    assert created.json()["password"] not in str(event.details)


async def test_a_password_is_in_its_creation_response_only(api: ApiWorld) -> None:
    created = await api.call("admin", "POST", "/addresses/{addr}/devices", {"name": "CRM"})
    password = created.json()["password"]
    assert created.headers["cache-control"] == "no-store"
    device_id = created.json()["device"]["id"]
    changed = await api.call("admin", "POST", f"/addresses/{{addr}}/devices/{device_id}/password")
    assert changed.status_code == 422  # a body is required, even an empty one
    changed = await api.call(
        "admin", "POST", f"/addresses/{{addr}}/devices/{device_id}/password", {}
    )
    assert changed.headers["cache-control"] == "no-store"
    assert changed.json()["password"] != password
    for path in ("/addresses/{addr}/devices", f"/addresses/{{addr}}/devices/{device_id}"):
        text = (await api.call("admin", "GET", path)).text
        assert password not in text and changed.json()["password"] not in text
        assert '"password"' not in text


async def test_tokens_are_managed_through_the_api_and_a_new_one_works(api: ApiWorld) -> None:
    made = await api.call("user", "POST", "/api-tokens", {"name": "laptop"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    secret, token_id = made.json()["secret"], made.json()["token"]["id"]
    listed = await api.call("user", "GET", "/api-tokens")
    assert [t["name"] for t in listed.json()] == ["laptop", "user"]
    assert secret not in listed.text
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await api.client.get("/api/v1/organizations", headers=headers)).status_code == 200
    assert (await api.call("user", "DELETE", f"/api-tokens/{token_id}")).status_code == 204
    assert (await api.call("user", "DELETE", f"/api-tokens/{token_id}")).status_code == 204
    refused = await api.client.get("/api/v1/organizations", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_the_token_list_pages_through_its_link_header(api: ApiWorld) -> None:
    for name in ("one", "two", "three"):
        await api.call("user", "POST", "/api-tokens", {"name": name})
    first = await api.call("user", "GET", "/api-tokens?limit=2")
    assert [t["name"] for t in first.json()] == ["three", "two"]
    link, rel = first.headers["link"].split("; ")
    assert rel == 'rel="next"' and link.startswith("</api/v1/api-tokens?")
    rest = await api.client.get(link.strip("<>"), headers=api.headers("user"))
    assert [t["name"] for t in rest.json()] == ["one", "user"]
    assert 'rel="prev"' in rest.headers["link"] and 'rel="next"' not in rest.headers["link"]


async def test_requests_over_a_named_limit_get_429_with_retry_after(api: ApiWorld) -> None:
    limiter = ApiRateLimiter(
        MemoryRateLimitStore(),
        (Limit("api.ip", 100, 60), Limit("api.ip.bad_token", 2, 60), Limit("api.token", 3, 60)),
    )
    transport = httpx.ASGITransport(app=api_app(api.world, limiter))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        good, bad = api.headers("admin"), api.headers("unknown")
        statuses = [(await client.get("/api/v1/organizations", headers=good)).status_code]
        statuses += [(await client.get("/api/v1/organizations", headers=good)).status_code]
        statuses += [(await client.get("/api/v1/organizations", headers=good)).status_code]
        limited = await client.get("/api/v1/organizations", headers=good)
        bad_statuses = [
            (await client.get("/api/v1/organizations", headers=bad)).status_code for _ in range(3)
        ]
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert limited.json()["type"].endswith("/rate-limited") and "api.token" in limited.text
    assert int(limited.headers["retry-after"]) >= 1
    assert bad_statuses == [401, 401, 429]


async def test_refused_tokens_are_counted_per_ipv6_network_not_per_address(
    api: ApiWorld,
) -> None:
    limiter = ApiRateLimiter(
        MemoryRateLimitStore(),
        (Limit("api.ip", 100, 60), Limit("api.ip.bad_token", 2, 60), Limit("api.token", 50, 60)),
    )
    app = api_app(api.world, limiter)
    statuses = []
    for host in ("2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:ffff::3"):  # one /64
        transport = httpx.ASGITransport(app=app, client=(host, 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
            response = await c.get("/api/v1/organizations", headers=api.headers("unknown"))
            statuses.append(response.status_code)
    assert statuses == [401, 401, 429]


async def test_a_path_with_a_newline_under_the_api_gets_a_problem_not_an_html_page(
    api: ApiWorld,
) -> None:
    response = await api.client.put(
        "/api/v1/addresses/1/devices/%0A-x/access", json={}, headers=api.headers("admin")
    )
    assert response.status_code in (404, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
