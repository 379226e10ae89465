"""Finding 1: before login, an IMAP literal is bounded (a few KiB, RFC 7888 LITERAL-);
a 2 GB literal no longer makes ``mailward serve`` buffer what the client pushes."""

from __future__ import annotations

import imaplib
from pathlib import Path

from bench.abuse_literal import free_port, literal_attack, start_serve, stop_serve

from tests.integration.mail_world import MailWorld, imaps, in_thread, message
from tests.security.front_support import Raw, rest_or_reset
from tests.support import World

SERVE_PORTS = ("http", "imap", "imaps", "submission", "submissions", "smtp", "pop3", "pop3s")


async def test_a_huge_literal_plus_before_login_gets_bad_toobig_and_the_connection_closes(
    mail: MailWorld,
) -> None:
    for port, tls in ((mail.ports.imap, False), (mail.ports.imaps, True)):
        client = await Raw.greeted(port, tls)
        await client.send(b"a1 LOGIN {2000000000+}\r\n" + b"x" * 65536)
        said = await rest_or_reset(client)
        assert b"a1 BAD [TOOBIG]" in said or said == b""
        assert b"SERVERBUG" not in said
        await client.close()


async def test_a_synchronizing_append_literal_before_login_gets_no_continuation(
    mail: MailWorld,
) -> None:
    client = await Raw.greeted(mail.ports.imaps, tls=True)
    await client.send(b"a1 APPEND INBOX {100000}\r\n")
    answer = await client.line()
    assert answer.startswith(b"a1 BAD"), answer
    await client.send(b"a2 NOOP\r\n")
    assert (await client.until(b"a2 "))[-1].startswith(b"a2 OK")
    await client.close()


async def test_many_small_literals_in_one_command_before_login_stop_at_the_budget(
    mail: MailWorld,
) -> None:
    client = await Raw.greeted(mail.ports.imaps, tls=True)
    chained = b"a1 LOGIN {4000+}\r\n" + (b"y" * 4000 + b" {4000+}\r\n") * 10
    await client.send(chained)
    said = await rest_or_reset(client)
    assert b"a1 BAD [TOOBIG]" in said or said == b""
    await client.close()


async def test_a_logged_in_device_still_appends_a_message_larger_than_the_login_limit(
    world: World, mail: MailWorld
) -> None:
    password = await mail.add_device(world.address, "laptop")
    client = await in_thread(imaps, mail.ports.imaps)
    assert isinstance(client, imaplib.IMAP4)
    await in_thread(client.login, world.address, password)
    body = message(world.address, world.address, "big", "z" * 200_000)
    status = await in_thread(client.append, "INBOX", None, None, body)
    assert isinstance(status, tuple) and status[0] == "OK"
    await in_thread(client.logout)


async def test_serve_memory_stays_bounded_while_connections_push_two_gigabyte_literals(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in SERVE_PORTS}
    process = start_serve(tmp_path / "data", ports)
    try:
        growth = await literal_attack(process.pid, ports["imap"], connections=8, megabytes=50)
    finally:
        stop_serve(process)
    # Old code: +426 MB for the same 8 x 50 MiB (each connection buffered its literal).
    assert growth < 100, f"RSS grew {growth:.0f} MB"
