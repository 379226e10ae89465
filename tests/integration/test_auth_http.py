"""The internal HTTP auth endpoint, through a real socket, for Dovecot and nginx."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.directory import DeviceDirectory
from mailward.auth.runtime import AuthRuntime
from mailward.auth.secret import auth_http_secret, secret_file
from mailward.db.engine import Database
from mailward.settings import Settings
from tests.integration.auth_devices import add_generated
from tests.support import World, free_port


@pytest.fixture
async def endpoint(world: World) -> AsyncIterator[tuple[httpx.AsyncClient, Authenticator]]:
    async with AuthRuntime(world.services) as runtime:
        server = await runtime.serve_http("127.0.0.1", free_port())
        secret = auth_http_secret(world.services.settings)
        headers = {"X-Mailward-Secret": secret}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as client:
            yield client, runtime.authenticator


def dovecot(user: str, password: str, service: str = "imap", ip: str = "192.0.2.1") -> dict:
    return {"user": user, "password": password, "service": service, "remote_ip": ip}


async def test_dovecot_gets_ok_with_the_device_id(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    device, password = await add_generated(world, "Phone")
    response = await client.post("/auth/dovecot", json=dovecot("INFO@example.test", password))
    assert response.status_code == 200
    assert response.json() == {"result": "ok", "device_id": device, "user": world.address}


async def test_dovecot_submission_is_smtp_and_lmtp_fails(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    _, password = await add_generated(world, "Form")
    ok = await client.post("/auth/dovecot", json=dovecot(world.address, password, "submission"))
    assert ok.json()["result"] == "ok"
    lmtp = await client.post("/auth/dovecot", json=dovecot(world.address, password, "lmtp"))
    assert lmtp.json() == {"result": "fail"}


async def test_dovecot_gets_fail_then_tempfail_when_rate_limited(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, auth = endpoint
    await add_generated(world, "Phone")
    for i in range(auth.limiter.limits.address_ip.failures):
        response = await client.post("/auth/dovecot", json=dovecot(world.address, f"guess-{i}"))
        assert response.json() == {"result": "fail"}
    response = await client.post("/auth/dovecot", json=dovecot(world.address, "guess-x"))
    body = response.json()
    assert body["result"] == "tempfail" and body["retry_after"] >= 1
    assert body["reason"] == "rate_limited"


async def test_dovecot_gets_tempfail_when_the_database_is_down(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, auth = endpoint
    _, password = await add_generated(world, "Phone")
    dead = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    auth.directory = DeviceDirectory(dead)
    try:
        response = await client.post("/auth/dovecot", json=dovecot(world.address, password))
        body = response.json()
        assert body["result"] == "tempfail" and body["reason"] == "unavailable"
    finally:
        await dead.dispose()


async def test_a_wrong_or_missing_secret_is_forbidden(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    _, password = await add_generated(world, "Phone")
    body = dovecot(world.address, password)
    wrong = await client.post("/auth/dovecot", json=body, headers={"X-Mailward-Secret": "nope"})
    assert wrong.status_code == 403
    del client.headers["X-Mailward-Secret"]
    assert (await client.post("/auth/dovecot", json=body)).status_code == 403
    assert (await client.get("/auth/nginx")).status_code == 403
    assert (await client.get("/auth/health")).status_code == 200


async def test_a_malformed_dovecot_request_is_a_bad_request(
    endpoint: tuple[httpx.AsyncClient, Authenticator],
) -> None:
    client, _ = endpoint
    for content in (b"not json", b"[1]", b'{"user": 3, "password": "x"}', b'{"password": "x"}'):
        response = await client.post("/auth/dovecot", content=content)
        assert response.status_code == 400
        assert response.json()["result"] == "fail"
    assert (await client.post("/auth/dovecot", content=b"x" * 20_000)).status_code == 400
    assert (await client.get("/elsewhere")).status_code == 404


def nginx(user: str, password: str, protocol: str = "imap", attempt: int = 1) -> dict[str, str]:
    return {
        "Auth-Method": "plain",
        "Auth-User": user,
        "Auth-Pass": password,
        "Auth-Protocol": protocol,
        "Auth-Login-Attempt": str(attempt),
        "Client-IP": "192.0.2.44",
    }


async def test_nginx_gets_the_backend_for_a_good_login(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    _, password = await add_generated(world, "Phone")
    response = await client.get("/auth/nginx", headers=nginx(world.address, password))
    settings = world.services.settings
    assert response.headers["Auth-Status"] == "OK"
    assert response.headers["Auth-Server"] == "127.0.0.1"
    assert response.headers["Auth-Port"] == str(settings.imap_port)
    smtp = await client.get("/auth/nginx", headers=nginx(world.address, password, "smtp"))
    assert smtp.headers["Auth-Port"] == str(settings.submission_port)


async def test_nginx_url_encoded_credentials_are_decoded(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    password = "Quiet Harbor%Lantern 47!"
    await world.services.devices.add(world.admin, world.address, "Laptop", password=password)
    encoded = password.replace("%", "%25").replace(" ", "%20")
    response = await client.get("/auth/nginx", headers=nginx(world.address, encoded))
    assert response.headers["Auth-Status"] == "OK"


async def test_nginx_gets_invalid_login_with_a_wait_until_the_tenth_attempt(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, _ = endpoint
    first = await client.get("/auth/nginx", headers=nginx(world.address, "bad", "smtp"))
    assert first.headers["Auth-Status"] == "Invalid login or password"
    assert first.headers["Auth-Error-Code"] == "535 5.7.8"
    assert int(first.headers["Auth-Wait"]) >= 1
    last = await client.get("/auth/nginx", headers=nginx(world.address, "bad2", "imap", 10))
    assert "Auth-Wait" not in last.headers


async def test_nginx_gets_a_temporary_problem_when_rate_limited(
    endpoint: tuple[httpx.AsyncClient, Authenticator], world: World
) -> None:
    client, auth = endpoint
    for i in range(auth.limiter.limits.address_ip.failures):
        await client.get("/auth/nginx", headers=nginx(world.address, f"guess-{i}"))
    response = await client.get("/auth/nginx", headers=nginx(world.address, "guess-x"))
    assert response.headers["Auth-Status"] == "Temporary server problem, try again later"
    assert int(response.headers["Auth-Wait"]) >= 1


def test_a_development_secret_is_made_once_readable_only_by_the_owner(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = auth_http_secret(settings)
    assert len(first) >= 32
    assert auth_http_secret(settings) == first
    mode = stat.S_IMODE(secret_file(settings).stat().st_mode)
    assert mode == 0o600
    configured = Settings(data_dir=tmp_path / "data", auth_http_secret="s" * 40)
    assert auth_http_secret(configured) == "s" * 40
