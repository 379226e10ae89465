"""Unit tests of the authentication parts, with fakes and no I/O."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mailward.auth.cache import CredentialCache, DeviceGrant
from mailward.auth.endpoint import AuthHttpApp, dovecot_answer
from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthFailure,
    AuthResult,
    FailureReason,
)
from mailward.auth.lastused import clean_client_name
from mailward.auth.limits import AuthLimits, Limit, RateLimiter
from mailward.auth.nginx import NginxBackends
from mailward.auth.refusals import Refusal, refusal_of
from mailward.auth.server import listening_socket
from mailward.core.deps import DeviceChangeNotice
from mailward.keys import ServerKeys
from mailward.limitstore import MemoryRateLimitStore

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def grant(**changes: Any) -> DeviceGrant:
    base: dict[str, Any] = {
        "device_id": 7,
        "address_id": 3,
        "organization_id": 1,
        "address": "info@example.test",
        "device_name": "Phone",
        "revoked": False,
        "expires_at": None,
        "protocols": frozenset({"imap", "smtp"}),
        "networks": (),
    }
    return DeviceGrant(**{**base, **changes})


async def test_memory_counters_expire_with_their_window() -> None:
    clock = FakeTime()
    store = MemoryRateLimitStore(clock)
    await store.increment(["k"], 60)
    await store.increment(["k"], 60)
    assert await store.counts(["k", "other"]) == [2, 0]
    clock.now += 30
    assert await store.retry_after("k") == pytest.approx(30)
    clock.now += 31
    assert await store.counts(["k"]) == [0]


async def test_the_memory_store_forgets_cleared_counters_and_flags() -> None:
    store = MemoryRateLimitStore(FakeTime())
    await store.increment(["k", "kept"], 60)
    assert await store.add_flag("f", 60)
    await store.clear(["k", "f", "absent"])
    assert await store.counts(["k", "kept"]) == [0, 1]
    assert await store.add_flag("f", 60)
    await store.close()


async def test_a_limit_names_itself_and_exempts_a_known_ip_from_others_failures() -> None:
    clock = FakeTime()
    limits = AuthLimits(
        address_ip=Limit("address_ip.auth", 3, 60),
        ip=Limit("ip.auth", 100, 60),
        address=Limit("address.auth", 5, 60),
    )
    limiter = RateLimiter(MemoryRateLimitStore(clock), limits)
    home = await limiter.check("a@x.test", "192.0.2.1")
    await limiter.record_success("a@x.test", "192.0.2.1", home)
    for i in range(5):
        await limiter.record_failure("a@x.test", f"203.0.113.{i}", f"fp{i}")
    stranger = await limiter.check("a@x.test", "198.51.100.1")
    assert stranger.limited is not None and stranger.limited.limit == "address.auth"
    assert stranger.limited.retry_after == 60
    assert (await limiter.check("a@x.test", "192.0.2.1")).limited is None
    for i in range(3):
        await limiter.record_failure("a@x.test", "192.0.2.1", f"home{i}")
    own = await limiter.check("a@x.test", "192.0.2.1")
    assert own.limited is not None and own.limited.limit == "address_ip.auth"


async def test_a_repeated_fingerprint_is_counted_once() -> None:
    limiter = RateLimiter(MemoryRateLimitStore(FakeTime()))
    assert await limiter.record_failure("a@x.test", "192.0.2.1", "same")
    assert not await limiter.record_failure("a@x.test", "192.0.2.1", "same")


async def test_a_change_notice_drops_the_device_and_the_addresses_known_failures() -> None:
    cache = CredentialCache(ServerKeys.generate(), ttl=300, monotonic=FakeTime())
    key, other, bad = cache.key("a@x.test", "pw1"), cache.key("a@x.test", "pw2"), b"bad"
    epoch = cache.epoch
    cache.put(key, grant(), epoch)
    cache.put(other, grant(device_id=8), epoch)
    cache.remember_failure(bad, 3, epoch)
    assert cache.get(key) is not None and cache.is_known_failure(bad)
    await cache.device_changed(DeviceChangeNotice(7, 3, "revoke"))
    assert cache.get(key) is None
    assert cache.get(other) is not None
    assert not cache.is_known_failure(bad)


def test_a_lookup_that_started_before_a_change_is_not_cached() -> None:
    cache = CredentialCache(ServerKeys.generate(), ttl=300, monotonic=FakeTime())
    epoch = cache.epoch
    cache.clear()
    cache.put(b"k", grant(), epoch)
    assert cache.get(b"k") is None


def test_cache_entries_expire_and_the_key_is_not_the_password() -> None:
    clock = FakeTime()
    cache = CredentialCache(ServerKeys.generate(), ttl=300, monotonic=clock)
    key = cache.key("a@x.test", "secret-password")
    assert b"secret-password" not in key
    cache.put(key, grant(), cache.epoch)
    clock.now += 301
    assert cache.get(key) is None


def test_a_cache_with_no_lifetime_stores_nothing() -> None:
    cache = CredentialCache(ServerKeys.generate(), ttl=0)
    cache.put(b"k", grant(), cache.epoch)
    cache.remember_failure(b"f", None, cache.epoch)
    assert cache.get(b"k") is None and not cache.is_known_failure(b"f")


@pytest.mark.parametrize(
    ("changes", "protocol", "ip", "expected"),
    [
        ({}, "imap", "192.0.2.1", None),
        ({"revoked": True}, "imap", "192.0.2.1", Refusal.REVOKED),
        ({"expires_at": NOW}, "imap", "192.0.2.1", Refusal.EXPIRED),
        ({"expires_at": NOW + timedelta(seconds=1)}, "imap", "192.0.2.1", None),
        ({}, "pop3", "192.0.2.1", Refusal.PROTOCOL),
        ({"networks": (ipaddress.ip_network("10.0.0.0/8"),)}, "imap", "10.1.2.3", None),
        ({"networks": (ipaddress.ip_network("10.0.0.0/8"),)}, "imap", "::ffff:10.1.2.3", None),
        ({"networks": (ipaddress.ip_network("10.0.0.0/8"),)}, "imap", "11.0.0.1", Refusal.NETWORK),
        ({"networks": (ipaddress.ip_network("10.0.0.0/8"),)}, "imap", "garbage", Refusal.NETWORK),
    ],
)
def test_the_device_scope_decides_refusals(
    changes: dict[str, Any], protocol: str, ip: str, expected: Refusal | None
) -> None:
    assert refusal_of(grant(**changes), protocol, ip, NOW) == expected


def test_client_names_are_printable_and_bounded() -> None:
    assert clean_client_name("Thunder\x00bird\n") == "Thunder bird"
    assert clean_client_name("x" * 500) == "x" * 200
    assert clean_client_name("  ") is None


def test_dovecot_answers_keep_the_contract() -> None:
    ok = AuthenticatedDevice(5, 3, "info@example.test", "Phone")
    assert json.loads(dovecot_answer(ok)) == {
        "result": "ok",
        "device_id": 5,
        "user": "info@example.test",
    }
    assert json.loads(dovecot_answer(AuthFailure(FailureReason.WRONG_CREDENTIALS))) == {
        "result": "fail"
    }
    limited = json.loads(dovecot_answer(AuthFailure(FailureReason.RATE_LIMITED, 12.2)))
    assert limited["result"] == "tempfail" and limited["retry_after"] == 13


class FakeAuthenticator:
    def __init__(self, result: AuthResult) -> None:
        self.result = result
        self.calls: list[tuple[Any, ...]] = []

    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        self.calls.append((address, password, protocol, client_ip, client_name))
        return self.result

    def note_client_name(self, device_id: int, client_name: str) -> None:
        return None


async def call_app(
    app: AuthHttpApp, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


BACKENDS = NginxBackends("127.0.0.1", {"imap": 1143, "pop3": 1110, "smtp": 1587})


async def test_nginx_gets_ok_and_the_backend_for_the_protocol() -> None:
    fake = FakeAuthenticator(AuthenticatedDevice(5, 3, "info@example.test", "Phone"))
    app = AuthHttpApp(fake, "secret", BACKENDS)
    headers = {
        "X-Mailward-Secret": "secret",
        "Auth-User": "info%40example.test",
        "Auth-Pass": "p%20w",
        "Auth-Protocol": "pop3",
        "Client-IP": "192.0.2.4",
    }
    status, out, _ = await call_app(app, "GET", "/auth/nginx", headers)
    assert status == 200
    assert out[b"auth-status"] == b"OK" and out[b"auth-port"] == b"1110"
    assert fake.calls == [("info@example.test", "p w", "pop3", "192.0.2.4", None)]


async def test_nginx_apop_is_refused_without_asking() -> None:
    fake = FakeAuthenticator(AuthenticatedDevice(5, 3, "info@example.test", "Phone"))
    app = AuthHttpApp(fake, "secret", BACKENDS)
    headers = {"X-Mailward-Secret": "secret", "Auth-Method": "apop", "Auth-Protocol": "pop3"}
    _, out, _ = await call_app(app, "GET", "/auth/nginx", headers)
    assert out[b"auth-status"] == b"Invalid login or password"
    assert fake.calls == []


async def test_the_endpoint_passes_the_dovecot_client_name() -> None:
    fake = FakeAuthenticator(AuthFailure(FailureReason.UNAVAILABLE))
    app = AuthHttpApp(fake, "secret", BACKENDS)
    body = json.dumps(
        {
            "user": "a@x.test",
            "password": "pw",
            "service": "SUBMISSION",
            "remote_ip": "192.0.2.1",
            "client_name": "Outlook",
        }
    ).encode()
    status, _, out = await call_app(
        app, "POST", "/auth/dovecot", {"X-Mailward-Secret": "secret"}, body
    )
    assert status == 200
    assert json.loads(out) == {"result": "tempfail", "retry_after": 5, "reason": "unavailable"}
    assert fake.calls == [("a@x.test", "pw", "smtp", "192.0.2.1", "Outlook")]


def test_an_endpoint_without_a_secret_refuses_to_exist() -> None:
    with pytest.raises(ValueError, match="secret"):
        AuthHttpApp(FakeAuthenticator(AuthFailure(FailureReason.UNAVAILABLE)), "", BACKENDS)


def test_the_listener_is_tcp_so_replies_are_not_delayed_by_nagle() -> None:
    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
