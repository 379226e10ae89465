"""What must survive: an acknowledged message survives SIGKILL, an interrupted one never
shows up half-written, and protocol garbage neither crashes the server nor leaks a
traceback to the client."""

from __future__ import annotations

import asyncio
import base64
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_mail_running import OTHER, Served, add_device, serving
from tests.integration.mail_world import RawImap, client_tls

pytestmark = pytest.mark.slow

BIG_LINES = 60_000  # about 4.7 MB of body
MARKER = b"END-OF-MESSAGE-MARKER"
GOODBYE = b"\r\n.\r\nQUIT\r\nz LOGOUT\r\n"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path) as served:
        await add_device(served, served.world.address, "laptop")
        await add_device(served, OTHER, "bob-phone")
        yield served


class RawSmtp:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def authenticated(cls, served: Served) -> RawSmtp:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", served.ports["submissions"], ssl=client_tls()
        )
        smtp = cls(reader, writer)
        await smtp.reply()
        await smtp.send(b"EHLO test")
        user, password = served.world.address, served.passwords["laptop"]
        plain = base64.b64encode(f"\0{user}\0{password}".encode())
        assert (await smtp.send(b"AUTH PLAIN " + plain)).startswith(b"235")
        assert (await smtp.send(f"MAIL FROM:<{user}>".encode())).startswith(b"250")
        assert (await smtp.send(f"RCPT TO:<{OTHER}>".encode())).startswith(b"250")
        assert (await smtp.send(b"DATA")).startswith(b"354")
        return smtp

    async def reply(self) -> bytes:
        async with asyncio.timeout(30):
            while True:
                line = await self.reader.readline()
                if line[3:4] != b"-":
                    return line

    async def send(self, line: bytes) -> bytes:
        self.writer.write(line + b"\r\n")
        return await self.reply()


def big_body(lines: int) -> bytes:
    row = b"x" * 76 + b"\r\n"
    return b"Subject: big\r\n\r\n" + row * lines + MARKER + b"\r\n"


def inbox_files(served: Served, address_id: int) -> dict[str, list[Path]]:
    inbox = served.address_inbox(address_id)
    return {sub: sorted((inbox / sub).glob("*")) for sub in ("tmp", "new", "cur")}


async def bob_id(served: Served) -> int:
    view = await served.services.addresses.get(served.world.admin, OTHER)
    return view.id


async def test_a_submission_cut_mid_transfer_leaves_nothing_visible(served: Served) -> None:
    smtp = await RawSmtp.authenticated(served)
    body = big_body(BIG_LINES)
    smtp.writer.write(body[: len(body) // 2])
    await smtp.writer.drain()
    smtp.writer.transport.abort()
    await asyncio.sleep(0.5)  # let the server notice the disconnect
    files = inbox_files(served, await bob_id(served))
    assert files["new"] == [] and files["cur"] == [] and files["tmp"] == []
    assert served.alive()


async def test_an_acknowledged_message_survives_sigkill(served: Served) -> None:
    smtp = await RawSmtp.authenticated(served)
    smtp.writer.write(big_body(BIG_LINES))
    assert (await smtp.send(b".")).startswith(b"250")
    served.process.send_signal(signal.SIGKILL)
    served.process.wait(10)
    smtp.writer.transport.abort()
    files = inbox_files(served, await bob_id(served))
    assert files["tmp"] == []
    assert len(files["new"]) == 1
    stored = files["new"][0].read_bytes()
    assert stored.rstrip().endswith(MARKER)
    assert stored.count(b"x" * 76) == BIG_LINES


def garbage_lines(rng: random.Random, count: int) -> list[bytes]:
    fixed = [
        b"a LOGIN {999999}", b"a APPEND INBOX {5000000+}", b"a AUTHENTICATE PLAIN",
        b"* * * *", b"a SELECT \x00\x01", b"AUTH PLAIN !!!!", b"MAIL FROM:<<<>>>",
        b"RCPT TO:<@@@>", b"DATA", b".", b"STARTTLS", b"a STARTTLS", b"BDAT 10 LAST",
        b"a FETCH 1:* (BODY[]<0.99999999999>)", b"a UID SEARCH (((((((", "é€".encode(),
        b"A" * 5000, b"a LOGIN \"unterminated", b"a ID (\"name\"", b"\xff\xfe\xfd",
    ]  # fmt: skip
    lines = []
    for _ in range(count):
        if rng.random() < 0.5:
            lines.append(rng.choice(fixed))
        else:
            size = rng.randint(0, 300)
            lines.append(bytes(rng.choice(range(1, 256)) for _ in range(size)).replace(b"\n", b""))
    return lines


async def spray(port: int, tls: bool, lines: list[bytes]) -> bytes:
    """Send the lines (reconnecting when the server hangs up); return every answer."""
    answers = b""
    position = 0
    while position < len(lines):
        ssl = client_tls() if tls else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ssl)
        batch = lines[position : position + 250]
        position += len(batch)
        try:
            writer.write(b"".join(line + b"\r\n" for line in batch) + GOODBYE)
            async with asyncio.timeout(1.5):
                while chunk := await reader.read(65536):
                    answers += chunk
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.transport.abort()
    return answers


@pytest.mark.parametrize(
    ("port_name", "tls"),
    [("imap", False), ("imaps", True), ("submission", False), ("submissions", True),
     ("smtp", False)],
)  # fmt: skip
async def test_protocol_garbage_never_crashes_or_leaks_a_traceback(
    served: Served, port_name: str, tls: bool
) -> None:
    rng = random.Random(f"garbage-{port_name}")
    answers = await spray(served.ports[port_name], tls, garbage_lines(rng, 2000))
    assert answers, "the server answered nothing"
    for leak in (b"Traceback", b'File "', b"Error: (", b"site-packages"):
        assert leak not in answers
    assert served.alive()
    logged = "".join(served.output)
    assert "never retrieved" not in logged and "Unhandled exception" not in logged
    client = await RawImap.connect(served.ports["imaps"])
    try:
        assert b"OK" in await client.login(served.world.address, served.passwords["laptop"])
    finally:
        await client.close()
