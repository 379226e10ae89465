"""Finding 4: forged client IPs. Through a real uvicorn started as ``mailward serve``
starts it, on a real socket: ``X-Forwarded-For`` is ignored unless the peer is one of
``trusted_proxies``; the audit log, the sign-in limits and the API see one client IP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from mailward.bootstrap import Services
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.db.models import AuditEvent
from mailward.serve import start_web
from mailward.settings import Settings
from mailward.web.clientip import proxy_options
from tests.support import World, free_port, make_settings, make_world, open_services
from tests.web_support import csrf_of

FORGED = [f"203.0.113.{n}" for n in range(1, 6)]


@asynccontextmanager
async def live_web(tmp_path: Path, database_url: str, **overrides: object) -> AsyncIterator[World]:
    """Services, a world, and the web manager listening on 127.0.0.1 via serve.start_web."""
    port = free_port()
    settings = make_settings(tmp_path, database_url, bind="127.0.0.1", http_port=port, **overrides)
    services = await open_services(settings)
    listener = await start_web(services, settings)
    assert listener is not None
    try:
        yield await make_world(services)
    finally:
        await listener.stop()
        await services.close()


def url_of(services: Services) -> str:
    return f"http://127.0.0.1:{services.settings.http_port}"


async def fail_sign_in(services: Services, forwarded_for: str) -> int:
    async with httpx.AsyncClient(base_url=url_of(services)) as client:
        token = csrf_of((await client.get("/login")).text)
        response = await client.post(
            "/login",
            data={"csrf": token, "email": "admin@corp.test", "password": "not it"},
            headers={"X-Forwarded-For": forwarded_for},
        )
    return response.status_code


async def login_failure_ips(services: Services) -> list[str | None]:
    async with services.db.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(AuditEvent.actor_ip)
            .where(AuditEvent.action == "account:login_failure")
            .order_by(AuditEvent.id)
        )
        return list(rows)


async def test_forwarded_for_is_ignored_without_trusted_proxies(
    tmp_path: Path, database_url: str
) -> None:
    async with live_web(tmp_path, database_url) as world:
        statuses = [await fail_sign_in(world.services, ip) for ip in FORGED]
        ips = await login_failure_ips(world.services)
    assert statuses == [401] * 5
    assert ips == ["127.0.0.1"] * 5  # not the five addresses the client made up


async def test_the_api_records_the_socket_peer_not_the_header(
    tmp_path: Path, database_url: str
) -> None:
    async with live_web(tmp_path, database_url) as world:
        issued = await ApiTokenService(world.services.deps).create(
            world.admin, world.org_id, "ip test", None
        )
        address = await world.services.addresses.get(world.admin, world.address)
        async with httpx.AsyncClient(base_url=url_of(world.services)) as client:
            made = await client.post(
                f"/api/v1/addresses/{address.id}/devices",
                json={"name": "Printer"},
                headers={
                    "Authorization": f"Bearer {issued.secret}",
                    "X-Forwarded-For": "203.0.113.66",
                },
            )
        assert made.status_code == 201, made.text
        async with world.services.db.unit_of_work() as uow:
            ip = await uow.session.scalar(
                select(AuditEvent.actor_ip).where(AuditEvent.action == "device:add")
            )
    assert ip == "127.0.0.1"


async def test_a_trusted_proxy_gives_the_client_it_saw(tmp_path: Path, database_url: str) -> None:
    async with live_web(tmp_path, database_url, trusted_proxies=["127.0.0.0/8"]) as world:
        await fail_sign_in(world.services, "198.51.100.7")
        # The client sent its own header; the proxy appended the address it saw.
        await fail_sign_in(world.services, "203.0.113.9, 198.51.100.8")
        await fail_sign_in(world.services, "198.51.100.9, 127.0.0.2")
        ips = await login_failure_ips(world.services)
    assert ips == ["198.51.100.7", "198.51.100.8", "198.51.100.9"]


def test_uvicorn_reads_forwarded_headers_only_from_the_trusted_proxies() -> None:
    assert proxy_options(Settings()) == {"proxy_headers": False, "forwarded_allow_ips": ""}
    options = proxy_options(Settings(trusted_proxies=["10.0.0.1", "fd00::/8"]))
    assert options == {"proxy_headers": True, "forwarded_allow_ips": ["10.0.0.1/32", "fd00::/8"]}
