"""Finding 3: a flood of failures from many IPs locked every login of the server out
(a global failure ceiling), and 110 wrong passwords from 11 IPs locked an address for
every new IP. Limits stop guessing, not owners: a right generated password logs in
whatever the counters say, and a refusal under flood says "try later"."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from mailward.auth.authenticator import Authenticator
from mailward.auth.endpoint import dovecot_answer
from mailward.auth.interfaces import AuthFailure, AuthResult, FailureReason
from mailward.limitstore import MemoryRateLimitStore, RateLimitStore
from mailward.mail.imap_backend import TemporaryAuthFailure, auth_error
from mailward.mail.smtp_protocol import auth_failure_reply
from mailward.redis_limitstore import FallbackRateLimitStore, RedisRateLimitStore
from tests.integration.auth_devices import add_chosen, add_generated
from tests.security.flood_support import (
    CHOSEN,
    CountingHasher,
    count_calls,
    flood_authenticator,
    is_device,
    is_temporary,
    is_wrong,
)
from tests.security.front_support import Raw, front_mail, submission_auth_answer
from tests.support import World, free_port


@pytest.fixture
async def auth(world: World, limit_store: RateLimitStore) -> AsyncIterator[Authenticator]:
    """In this file, the world's authenticator with cheap hashers and the test's
    rate-limit store (flood_authenticator)."""
    async with flood_authenticator(world.services, limit_store) as auth:
        yield auth


async def guess_wrong(
    auth: Authenticator, address: str, count: int, ip: Callable[[int], str]
) -> list[AuthResult]:
    """``count`` wrong passwords for ``address`` over IMAP, the i-th from ``ip(i)``."""
    return [await auth.authenticate(address, f"guess-{i}", "imap", ip(i)) for i in range(count)]


async def test_a_flood_of_unknown_users_from_101_ips_leaves_every_generated_password_working(
    world: World, auth: Authenticator
) -> None:
    phone, password = await add_generated(world, "Phone")
    for ip in range(101):
        for n in range(50):
            await auth.authenticate(f"nobody{n}@example.test", "guess", "imap", f"10.9.{ip}.1")
    assert is_device(await auth.authenticate(world.address, password, "imap", "10.77.0.1"), phone)
    assert is_device(await auth.authenticate(world.address, password, "smtp", "10.9.3.1"), phone)


async def laptop_logged_in_from(home: str, auth: Authenticator, world: World) -> int:
    """A device with a chosen password that logged in once from ``home``; the login
    cache emptied, so that the next logins are checked in full."""
    laptop = await add_chosen(world, "Laptop", CHOSEN[0])
    assert is_device(await auth.authenticate(world.address, CHOSEN[0], "imap", home), laptop)
    auth.cache.clear()
    return laptop


async def test_110_wrong_passwords_from_11_ips_do_not_lock_the_address_for_a_right_password(
    world: World, auth: Authenticator
) -> None:
    home = "198.51.100.7"
    laptop = await laptop_logged_in_from(home, auth, world)
    phone, password = await add_generated(world, "Phone")
    await guess_wrong(auth, world.address, 110, lambda i: f"203.0.113.{i % 11}")
    newcomer = "192.0.2.200"
    assert is_device(await auth.authenticate(world.address, password, "pop3", newcomer), phone)
    stranger = "192.0.2.201"
    refused = await auth.authenticate(world.address, CHOSEN[0], "imap", stranger)
    assert is_temporary(refused), "a guessable password from a new network waits"
    assert is_device(await auth.authenticate(world.address, CHOSEN[0], "imap", home), laptop)


async def test_a_refusal_under_flood_says_try_later_on_every_edge(
    world: World, auth: Authenticator
) -> None:
    await add_chosen(world, "Laptop", CHOSEN[0])
    attacker = "203.0.113.66"
    failures = auth.limiter.limits.address_ip.failures
    guesses = await guess_wrong(auth, world.address, failures, lambda _: attacker)
    assert all(is_wrong(guess) for guess in guesses)
    result = await auth.authenticate(world.address, CHOSEN[0], "imap", attacker)
    assert isinstance(result, AuthFailure) and result.reason is FailureReason.RATE_LIMITED
    assert isinstance(auth_error(result), TemporaryAuthFailure)
    assert auth_failure_reply(result).startswith("454 4.7.0")
    assert b'"tempfail"' in dovecot_answer(result)


async def test_real_clients_over_their_limit_are_told_to_try_later(world: World) -> None:
    async with front_mail(world) as mail:
        await add_chosen(world, "Laptop", CHOSEN[0])
        auth = mail.authenticator.inner
        failures = auth.limiter.limits.address_ip.failures
        await guess_wrong(auth, world.address, failures, lambda _: "127.0.0.1")
        user, secret = world.address, CHOSEN[0]
        imap = await Raw.greeted(mail.ports.imaps, tls=True)
        await imap.send(f'a LOGIN "{user}" "{secret}"\r\n'.encode())
        assert (await imap.until(b"a "))[-1].startswith(b"a NO [UNAVAILABLE]")
        pop3 = await Raw.greeted(mail.ports.pop3s, tls=True)
        await pop3.send(f"USER {user}\r\n".encode())
        await pop3.line()
        await pop3.send(f"PASS {secret}\r\n".encode())
        assert (await pop3.line()).startswith(b"-ERR [SYS/TEMP]")
        plain = base64.b64encode(f"\0{user}\0{secret}".encode())
        answer = await submission_auth_answer(mail.ports.submissions, plain)
        assert answer.startswith(b"454 4.7.0")
        for client in (imap, pop3):
            await client.close()


async def test_a_network_that_logged_in_before_is_never_locked_out_by_the_address_counter(
    world: World, auth: Authenticator
) -> None:
    laptop = await laptop_logged_in_from("2001:db8:1:2::10", auth, world)
    failures = auth.limiter.limits.address.failures + 10
    await guess_wrong(auth, world.address, failures, lambda i: f"198.18.{i}.1")
    same_home_network = "2001:db8:1:2::99"  # a privacy address of the same /64
    result = await auth.authenticate(world.address, CHOSEN[0], "imap", same_home_network)
    assert is_device(result, laptop)


async def test_garbage_and_huge_credentials_are_answered_without_any_work(
    world: World, limit_store: RateLimitStore
) -> None:
    hasher = CountingHasher()
    async with flood_authenticator(world.services, limit_store, hasher) as auth:
        calls = count_calls(limit_store)
        for address, password in [
            ("x" * 100_000 + "@example.test", "pw"),
            (world.address, "p" * 1_000_000),
            ("no address at all", "pw"),
            ("\x00\xff@\x00", "\x00"),
            (world.address, ""),
        ]:
            assert is_wrong(await auth.authenticate(address, password, "imap", "192.0.2.9"))
        assert is_wrong(await auth.authenticate(world.address, "pw", "gopher", "192.0.2.9"))
        assert hasher.stretches == hasher.checks == calls[0] == 0


async def test_a_redis_outage_during_a_flood_keeps_right_passwords_working_and_logs_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    dead = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    store = FallbackRateLimitStore(dead, MemoryRateLimitStore())
    async with flood_authenticator(world.services, store) as auth:
        phone, password = await add_generated(world, "Phone")
        with caplog.at_level(logging.WARNING):
            await guess_wrong(auth, world.address, 300, lambda i: f"10.1.{i % 30}.1")
            result = await auth.authenticate(world.address, password, "imap", "10.1.3.1")
        assert is_device(result, phone)
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "Redis unavailable" in warnings[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
        await store.close()


async def test_a_redis_that_stops_answering_holds_one_probe_not_every_login() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    now = [0.0]
    silent = RedisRateLimitStore.from_url(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    store = FallbackRateLimitStore(
        silent, MemoryRateLimitStore(lambda: now[0]), monotonic=lambda: now[0]
    )
    tried = count_calls(silent)
    try:
        assert await store.counts(["k"]) == [0]  # waits for the timeout once
        now[0] += store.retry_seconds
        answers = await asyncio.gather(*(store.counts(["k"]) for _ in range(20)))
        assert answers == [[0]] * 20
        assert tried == [2], "the first failure, then one probe while the others use memory"
    finally:
        await store.close()
        server.close()
        await server.wait_closed()
