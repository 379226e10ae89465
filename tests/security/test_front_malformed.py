"""Finding 6 (malformed input, full disk): invalid UTF-8 in credentials gets a clean
refusal, and a full disk a temporary failure, on every protocol and on the web manager;
never ``SERVERBUG``, a traceback or a 500."""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.security.front_support import Raw, front_mail, submission_auth_answer
from tests.support import (
    ADMIN_PASSWORD,
    World,
    make_settings,
    make_world,
    open_services,
    skip_or_fail,
)
from tests.web_support import csrf_of, web_client

BAD_UTF8 = b"\xff\xfe\xc3("


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A real, small file system (tmpfs) at ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if mounted.returncode != 0:
        skip_or_fail("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()


async def test_invalid_utf8_credentials_get_a_clean_refusal_on_every_protocol(
    world: World,
) -> None:
    async with front_mail(world) as mail:
        imap = await Raw.greeted(mail.ports.imaps, tls=True)
        await imap.send(b"a LOGIN {4+}\r\n" + BAD_UTF8 + b" {4+}\r\n" + BAD_UTF8 + b"\r\n")
        assert (await imap.until(b"a "))[-1].startswith(b"a BAD")
        plain = base64.b64encode(b"\0" + BAD_UTF8 + b"\0" + BAD_UTF8)
        await imap.send(b"b AUTHENTICATE PLAIN " + plain + b"\r\n")
        answer = (await imap.until(b"b "))[-1]
        assert answer.startswith((b"b BAD", b"b NO")) and b"SERVERBUG" not in answer
        pop3 = await Raw.greeted(mail.ports.pop3s, tls=True)
        await pop3.send(b"USER " + BAD_UTF8 + b"\r\n")
        assert (await pop3.line()).startswith(b"-ERR")
        await pop3.send(b"AUTH PLAIN " + plain + b"\r\n")
        assert (await pop3.line()).startswith(b"-ERR")
        assert (await submission_auth_answer(mail.ports.submissions, plain)).startswith(b"535")
        for client in (imap, pop3):
            await client.close()


async def test_a_full_disk_answers_temporary_failures_to_mail_clients(
    world: World, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk") as disk:
        async with front_mail(world, data_dir=disk) as mail:
            password = await mail.add_device(world.address, "laptop")
            imap = await Raw.greeted(mail.ports.imaps, tls=True)
            await imap.send(f'a LOGIN "{world.address}" "{password}"\r\n'.encode())
            assert (await imap.until(b"a "))[-1].startswith(b"a OK")
            fill(disk)
            await imap.send(b"b SELECT INBOX\r\nc CREATE Archive\r\n")
            answers = await imap.until(b"c ")
            assert not any(b"SERVERBUG" in line or b"BYE" in line for line in answers)
            assert answers[-1].startswith(b"c NO [UNAVAILABLE]"), answers
            smtp = await Raw.connect(mail.ports.smtp)
            await smtp.until(b"220 ")
            for command in (
                b"EHLO mx.test",
                b"MAIL FROM:<a@b.test>",
                f"RCPT TO:<{world.address}>".encode(),
                b"DATA",
            ):
                await smtp.send(command + b"\r\n")
                await smtp.until(b"354 " if command == b"DATA" else b"250 ")
            await smtp.send(b"Subject: x\r\n\r\n" + (b"y" * 900 + b"\r\n") * 200 + b".\r\n")
            assert (await smtp.line()).startswith(b"451")
            for client in (imap, smtp):
                await client.close()


async def test_the_web_manager_on_a_full_disk_answers_503_not_500(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "8m") as disk:
        services = await open_services(make_settings(disk, f"sqlite+aiosqlite:///{disk}/mw.db"))
        try:
            world = await make_world(services)
            fill(disk)  # SQLite now fails every write with "database or disk is full"
            async with web_client(services) as client:
                page = await client.get("/login")
                form = {"email": world.admin.label, "password": ADMIN_PASSWORD}
                form["csrf"] = csrf_of(page.text)
                response = await client.post("/login", data=form)
        finally:
            await services.close()
    assert response.status_code == 503, response.status_code
    assert "Try again" in response.text
