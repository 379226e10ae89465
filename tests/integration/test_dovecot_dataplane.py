"""Dovecot from `mailward integrate dovecot`, authenticating every login through a
Mailward agent on PostgreSQL, with real clients (imaplib, poplib, curl)."""

from __future__ import annotations

import imaplib
import poplib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from tests.integration.dataplane import INFO, DataPlane, client_tls, running_plane

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    yield from running_plane()


def imaps_login(plane: DataPlane, user: str, password: str) -> imaplib.IMAP4_SSL:
    client = imaplib.IMAP4_SSL("127.0.0.1", plane.settings.imaps_port, ssl_context=client_tls())
    try:
        client.login(user, password)
    except BaseException:
        client.shutdown()
        raise
    return client


def test_imap_login_works_with_implicit_tls_and_starttls(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "Thunderbird")
    client = imaps_login(plane, INFO, device.password)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    plain = imaplib.IMAP4("127.0.0.1", plane.settings.imap_port)
    plain.starttls(client_tls())
    assert plain.login(INFO, device.password)[0] == "OK"
    plain.logout()


def test_a_wrong_password_is_refused_as_authentication_failure(plane: DataPlane) -> None:
    plane.add_device(INFO, "Phone")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaps_login(plane, INFO, "not-the-device-password-at-all")


def test_a_chosen_password_with_quotes_backslashes_and_spaces_gets_through_lua(
    plane: DataPlane,
) -> None:
    password = 'Qu"ote \\back\\slash sp ace \\u00e9 {"result":"ok"} 7Zx'
    device = plane.add_device(INFO, "Odd password client", password=password)
    assert device.password == password
    client = imaps_login(plane, INFO, password)
    client.logout()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaps_login(plane, INFO, password.replace('"', "'"))


def test_pop3_login_works_with_implicit_tls_and_stls(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "Old POP client")
    client = poplib.POP3_SSL("127.0.0.1", plane.settings.pop3s_port, context=client_tls())
    client.user(INFO)
    assert client.pass_(device.password).startswith(b"+OK")
    client.quit()
    plain = poplib.POP3("127.0.0.1", plane.settings.pop3_port)
    plain.stls(client_tls())
    plain.user(INFO)
    assert plain.pass_(device.password).startswith(b"+OK")
    plain.quit()


def test_curl_lists_the_mailbox_over_imaps(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "curl")
    url = f"imaps://127.0.0.1:{plane.settings.imaps_port}/"
    result = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "20", "-u", f"{INFO}:{device.password}", url],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "INBOX" in result.stdout


def wait_until_closed(client: imaplib.IMAP4_SSL, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            client.noop()
        except (imaplib.IMAP4.abort, OSError):
            client.shutdown()
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("the revoked device's session is still open")


def test_revoking_a_device_ends_its_imap_session_and_no_other(plane: DataPlane) -> None:
    laptop = plane.add_device(INFO, "Laptop")
    phone = plane.add_device(INFO, "Phone to revoke")
    laptop_session = imaps_login(plane, INFO, laptop.password)
    phone_session = imaps_login(plane, INFO, phone.password)
    assert f"{INFO}#{phone.device.id}" in plane.doveadm("who").stdout

    plane.revoke(INFO, phone.device.id)

    assert wait_until_closed(phone_session, timeout=3.0) < 1.5, plane.logs()
    assert laptop_session.noop()[0] == "OK"
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaps_login(plane, INFO, phone.password)
    laptop_session.logout()


def test_a_password_change_ends_the_old_sessions(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "Tablet")
    session = imaps_login(plane, INFO, device.password)

    async def change(services):  # type: ignore[no-untyped-def]
        from mailward.core.access.actors import Actor

        return await services.devices.change_password(Actor.operator(), INFO, device.device.id)

    replaced = plane.run(change)
    wait_until_closed(session, timeout=3.0)
    imaps_login(plane, INFO, replaced.password).logout()


def test_mailward_serve_runs_the_dovecot_plane_beside_its_web_manager(plane: DataPlane) -> None:
    """Dovecot holds the IMAP/POP3 ports (it could not have started had Mailward bound
    them first); Mailward's node serves the manager, the socketmap and the kick hook."""
    ready = next(line for line in plane.nodes[0].lines if "ready" in line)
    assert f"socketmap {plane.settings.socketmap_port}" in ready
    assert f"kicks {plane.dovecot_conf}" in ready
    assert "imaps" not in ready
    with urllib.request.urlopen(
        f"http://127.0.0.1:{plane.settings.http_port}/login", timeout=10
    ) as page:
        assert page.status == 200


def test_more_concurrent_logins_than_auth_workers_all_get_through(plane: DataPlane) -> None:
    """Logins beyond the auth workers wait their turn in Dovecot's auth process; none
    waits on a worker connection that no worker accepts (auth_worker_max_count)."""
    clients, rounds = plane.options.auth_workers * 2, 10
    device = plane.add_device(INFO, "Many connections at once")

    def logins(_: int) -> list[str]:
        answers = []
        for _ in range(rounds):
            try:
                imaps_login(plane, INFO, device.password).logout()
            except (imaplib.IMAP4.error, OSError) as error:
                answers.append(str(error))
            else:
                answers.append("OK")
        return answers

    with ThreadPoolExecutor(clients) as pool:
        answers = [answer for batch in pool.map(logins, range(clients)) for answer in batch]
    refused = [answer for answer in answers if answer != "OK"]
    assert not refused, f"{len(refused)} of {len(answers)} refused: {refused[:3]}"


def test_a_dovecot_login_is_in_the_devices_history_with_its_ip_and_protocol(
    plane: DataPlane,
) -> None:
    """The auth endpoint passes Dovecot's client IP and service; the agent's flusher
    writes the history within last_used_flush_seconds (5 s)."""
    device = plane.add_device(INFO, "History phone")
    pop = poplib.POP3_SSL("127.0.0.1", plane.settings.pop3s_port, context=client_tls())
    pop.user(INFO)
    pop.pass_(device.password)
    pop.quit()

    async def history(services: Services) -> list[Any]:
        return await services.device_history.history(Actor.operator(), INFO, device.device.id)

    deadline = time.monotonic() + 30
    while not (logins := plane.run(history)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [(h.ip, h.protocol, h.result) for h in logins] == [("127.0.0.1", "pop3", "ok")]
