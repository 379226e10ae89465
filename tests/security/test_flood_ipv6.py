"""Finding 3 (IPv6): counters were kept per exact IP, and one IPv6 host owns a /64 of
fresh addresses. Clients are counted by network: an IPv4 address, an IPv6 /64."""

from __future__ import annotations

from mailward.auth.limits import AuthLimits
from mailward.auth.runtime import close_authenticator
from mailward.core.networks import client_network
from mailward.limitstore import RateLimitStore
from tests.integration.auth_devices import add_chosen
from tests.security.flood_support import (
    CHOSEN,
    flood_authenticator,
    is_device,
    is_temporary,
    is_wrong,
)
from tests.support import World


def test_a_client_network_is_an_ipv4_address_or_an_ipv6_64() -> None:
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:2:ffff:1:2:3")
    assert client_network("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:2::1") != client_network("2001:db8:1:3::1")
    assert client_network("::ffff:192.0.2.7") == client_network("192.0.2.7") == "192.0.2.7"
    assert client_network("192.0.2.7") != client_network("192.0.2.8")
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("2001:db8::1", 48) == "2001:db8::/48"
    assert client_network("not an ip") == "not an ip"
    assert len(client_network("x" * 10_000)) == 64


async def test_guesses_from_fresh_addresses_of_one_64_share_one_counter(
    world: World, limit_store: RateLimitStore
) -> None:
    async with flood_authenticator(world.services, limit_store) as auth:
        laptop = await add_chosen(world, "Laptop", CHOSEN[0])
        for i in range(auth.limiter.limits.address_ip.failures):
            result = await auth.authenticate(world.address, f"g{i}", "imap", f"2001:db8:6::{i:x}")
            assert is_wrong(result)
        again = await auth.authenticate(world.address, "g-next", "imap", "2001:db8:6::beef")
        assert is_temporary(again)
        elsewhere = await auth.authenticate(world.address, CHOSEN[0], "imap", "2001:db8:7::1")
        assert is_device(elsewhere, laptop)


async def test_the_ip_counter_covers_the_whole_64_across_addresses(
    world: World, limit_store: RateLimitStore
) -> None:
    async with flood_authenticator(world.services, limit_store) as auth:
        limit = auth.limiter.limits.ip.failures
        for i in range(limit):
            user = f"nobody{i}@example.test"
            await auth.authenticate(user, "guess", "smtp", f"2001:db8:9:9:{i:x}::1")
        result = await auth.authenticate("other@example.test", "guess", "smtp", "2001:db8:9:9::7")
        assert is_temporary(result)


async def test_the_prefix_length_is_a_setting(world: World) -> None:
    services = world.services
    services.settings = services.settings.model_copy(update={"ipv6_prefix_length": 48})
    auth = services.build_authenticator()
    try:
        assert auth.limiter.limits == AuthLimits(ipv6_prefix_length=48)
        assert auth.limiter.network("2001:db8:1:2::1") == auth.limiter.network("2001:db8:1:3::1")
    finally:
        await close_authenticator(auth)
