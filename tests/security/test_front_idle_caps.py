"""Finding 6 (idle and caps): a client that never logs in is logged out, may send only
so many commands, and a network (an IPv4 address, an IPv6 /64) may hold only so many
connections on the mail ports; closing one admits the next."""

from __future__ import annotations

import asyncio

from mailward.core.networks import client_network
from mailward.mail.connections import ConnectionGate
from tests.security.front_support import Raw, front_mail, rest_or_reset
from tests.support import World, wait_until

GREETING = {"imap": b"* OK", "pop3": b"+OK", "submission": b"220 "}


def test_ipv6_clients_are_counted_by_their_64_network() -> None:
    assert client_network("2001:db8:1:2::1") == client_network("2001:db8:1:2:ffff::9")
    assert client_network("2001:db8:1:2::1") != client_network("2001:db8:1:3::1")
    assert client_network("::ffff:192.0.2.7") == client_network("192.0.2.7") == "192.0.2.7"
    gate = ConnectionGate(total=10, per_network=2)
    first, second = gate.enter("2001:db8::1"), gate.enter("2001:db8::2")
    assert first and second and gate.enter("2001:db8::3") is None
    assert gate.enter("2001:db8:0:1::1") is not None
    gate.leave(first)
    assert gate.enter("2001:db8::4") is not None


async def test_a_client_that_never_logs_in_is_logged_out(world: World) -> None:
    async with front_mail(world, mail_login_timeout_seconds=0.5) as mail:
        for name, port in (
            ("imap", mail.ports.imap),
            ("pop3", mail.ports.pop3),
            ("submission", mail.ports.submission),
        ):
            client = await Raw.connect(port)
            assert (await client.line()).startswith(GREETING[name])
            said = await rest_or_reset(client)  # closes by itself; a hang fails here
            assert b"SERVERBUG" not in said
            await client.close()


async def test_a_logged_in_client_is_not_held_to_the_login_timeout(world: World) -> None:
    async with front_mail(world, mail_login_timeout_seconds=0.5) as mail:
        password = await mail.add_device(world.address, "laptop")
        client = await Raw.greeted(mail.ports.imaps, tls=True)
        await client.send(f'a LOGIN "{world.address}" "{password}"\r\n'.encode())
        assert (await client.until(b"a "))[-1].startswith(b"a OK")
        await asyncio.sleep(1.5)
        await client.send(b"b NOOP\r\n")
        assert (await client.until(b"b "))[-1].startswith(b"b OK")
        await client.close()


async def test_commands_before_login_are_counted_on_every_protocol(world: World) -> None:
    async with front_mail(world, mail_commands_before_login=5) as mail:
        imap = await Raw.greeted(mail.ports.imap)
        await imap.send(b"".join(b"n%d NOOP\r\n" % i for i in range(8)))
        assert b"* BYE" in await rest_or_reset(imap)
        pop3 = await Raw.greeted(mail.ports.pop3)
        await pop3.send(b"NOOP\r\n" * 8)
        assert b"-ERR [SYS/TEMP] Too many commands" in await rest_or_reset(pop3)
        smtp = await Raw.greeted(mail.ports.submission)
        await smtp.send(b"NOOP\r\n" * 8)
        assert b"421 4.7.0" in await rest_or_reset(smtp)
        for client in (imap, pop3, smtp):
            await client.close()


async def admitted_once_counted_down(port: int) -> Raw:
    """A connection the server greets, once it has counted a closed one down (it sees
    the close a moment after the client): refused tries are closed and retried."""
    admitted: list[Raw] = []

    async def greeted() -> bool:
        client = await Raw.connect(port)
        if (await client.line()).startswith(b"220 "):
            admitted.append(client)
            return True
        await client.close()
        return False

    await wait_until(greeted, what="a connection admitted again")
    return admitted[0]


async def test_a_network_gets_only_so_many_mail_connections(world: World) -> None:
    async with front_mail(world, mail_max_connections_per_network=2) as mail:
        held = [await Raw.connect(mail.ports.imap), await Raw.connect(mail.ports.pop3)]
        for client in held:
            await client.line()
        refusals = {
            mail.ports.imap: b"* BYE [UNAVAILABLE]",
            mail.ports.pop3: b"-ERR [SYS/TEMP]",
            mail.ports.submission: b"421 4.7.0",
        }
        for port, refusal in refusals.items():
            extra = await Raw.connect(port)
            assert (await rest_or_reset(extra)).startswith(refusal)
            await extra.close()
        await held[0].close()
        admitted = await admitted_once_counted_down(mail.ports.submission)
        for client in (*held[1:], admitted):
            await client.close()
