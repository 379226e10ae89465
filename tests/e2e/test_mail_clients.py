"""``mailward serve`` as a process, used by curl, swaks and Python's clients."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.test_mail_running import OTHER, Served, add_device, serving, stop_process
from tests.integration.mail_world import RawImap
from tests.support import skip_or_fail

pytestmark = pytest.mark.slow


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(tmp_path) as served:
        await add_device(served, served.world.address, "laptop")
        await add_device(served, served.world.address, "phone")
        await add_device(served, OTHER, "bob-phone")
        yield served


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not installed (apt-get install -y {name})")
    assert path is not None
    return path


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=60, check=False)


def curl_send(served: Served, url: str, password: str, *extra: str) -> int:
    body = f"From: <{served.world.address}>\r\nTo: <{OTHER}>\r\nSubject: curl\r\n\r\nhi\r\n"
    result = run(
        tool("curl"), "-sS", "-k", *extra, url,
        "--mail-from", served.world.address, "--mail-rcpt", OTHER,
        "--user", f"{served.world.address}:{password}", "-T", "-",
        stdin=body.encode(),
    )  # fmt: skip
    return result.returncode


def curl_imap(url: str, user: str, password: str, *extra: str) -> tuple[int, bytes]:
    result = run(tool("curl"), "-sS", "-k", *extra, url, "--user", f"{user}:{password}")
    return result.returncode, result.stdout


async def test_curl_sends_over_both_submission_ports_and_reads_over_both_imap_ports(
    served: Served,
) -> None:
    ports, password = served.ports, served.passwords["laptop"]
    submission = f"smtp://127.0.0.1:{ports['submission']}"
    assert await asyncio.to_thread(curl_send, served, submission, password, "--ssl-reqd") == 0
    smtps = f"smtps://127.0.0.1:{ports['submissions']}"
    assert await asyncio.to_thread(curl_send, served, smtps, password) == 0
    bob = served.passwords["bob-phone"]
    imap = f"imap://127.0.0.1:{ports['imap']}/INBOX;UID=1"
    code, body = await asyncio.to_thread(curl_imap, imap, OTHER, bob, "--ssl-reqd")
    assert code == 0 and b"Subject: curl" in body
    imaps = f"imaps://127.0.0.1:{ports['imaps']}/INBOX;UID=2"
    code, body = await asyncio.to_thread(curl_imap, imaps, OTHER, bob)
    assert code == 0 and b"Subject: curl" in body


async def test_curl_with_a_wrong_password_is_denied(served: Served) -> None:
    imaps = f"imaps://127.0.0.1:{served.ports['imaps']}/INBOX"
    code, _ = await asyncio.to_thread(curl_imap, imaps, served.world.address, "x" * 20)
    assert code == 67  # curl: login denied
    smtps = f"smtps://127.0.0.1:{served.ports['submissions']}"
    assert await asyncio.to_thread(curl_send, served, smtps, "x" * 20) == 67


def swaks(served: Served, password: str) -> subprocess.CompletedProcess[bytes]:
    return run(
        tool("swaks"), "--server", "127.0.0.1", "--port", str(served.ports["submission"]),
        "--tls", "--auth", "PLAIN", "--auth-user", served.world.address,
        "--auth-password", password, "--from", served.world.address, "--to", OTHER,
    )  # fmt: skip


async def test_swaks_submits_with_starttls_and_auth_plain(served: Served) -> None:
    result = await asyncio.to_thread(swaks, served, served.passwords["laptop"])
    assert result.returncode == 0, result.stdout.decode()
    assert b"250 2.0.0 OK" in result.stdout
    refused = await asyncio.to_thread(swaks, served, "y" * 20)
    assert b"535 5.7.8" in refused.stdout


async def test_a_revocation_from_another_process_ends_the_session(served: Served) -> None:
    laptop = await RawImap.connect(served.ports["imaps"])
    phone = await RawImap.connect(served.ports["imaps"])
    try:
        assert b"OK" in await laptop.login(served.world.address, served.passwords["laptop"])
        assert b"OK" in await phone.login(served.world.address, served.passwords["phone"])
        await laptop.idle()
        await phone.idle()
        # This test process is "another process": the server learns through the feed.
        await served.services.devices.revoke(served.world.admin, served.world.address, "phone")
        assert b"BYE" in await phone.wait_for(b"BYE", patience=10)
        assert not any(b"BYE" in line for line in laptop.seen)
    finally:
        await laptop.close()
        await phone.close()


async def test_sigterm_stops_the_server_with_exit_code_zero(served: Served) -> None:
    client = await RawImap.connect(served.ports["imaps"])
    try:
        assert b"OK" in await client.login(served.world.address, served.passwords["laptop"])
        code = await asyncio.to_thread(stop_process, served.process)
        assert code == 0
        assert b"BYE" in await client.wait_for(b"BYE")
    finally:
        await client.close()
