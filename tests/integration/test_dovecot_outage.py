"""A Mailward node that loses PostgreSQL: Dovecot's clients are told "temporary
failure", never "wrong password", and logins work again by themselves once the
database is back, with no restart of Mailward or Dovecot."""

from __future__ import annotations

import imaplib
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.integration.dataplane import (
    INFO,
    DataPlane,
    client_tls,
    dovecot_running,
    prepared_plane,
    start_node,
)
from tests.integration.tcp_relay import TcpRelay

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cut_off() -> Iterator[tuple[DataPlane, TcpRelay]]:
    """The plane, its Mailward node reaching PostgreSQL only through a relay."""
    with prepared_plane() as plane:
        url = urlsplit(plane.settings.effective_database_url)
        relay = TcpRelay((url.hostname or "127.0.0.1", url.port or 5432)).start()
        relayed = url._replace(netloc=url.netloc.replace(f":{url.port}", f":{relay.port}"))
        try:
            node_settings = plane.settings.model_copy(update={"database_url": relayed.geturl()})
            plane.nodes.append(start_node(node_settings))
            with dovecot_running(plane):
                yield plane, relay
        finally:
            relay.cut()


def login_answer(plane: DataPlane, password: str) -> str:
    """``OK``, or the server's refusal text."""
    client = imaplib.IMAP4_SSL("127.0.0.1", plane.settings.imaps_port, ssl_context=client_tls())
    try:
        client.login(INFO, password)
    except imaplib.IMAP4.error as error:
        return str(error)
    finally:
        client.shutdown()
    return "OK"


def test_a_lost_database_is_a_temporary_failure_and_the_node_recovers_by_itself(
    cut_off: tuple[DataPlane, TcpRelay],
) -> None:
    plane, relay = cut_off
    before = plane.add_device(INFO, "Laptop")
    assert login_answer(plane, before.password) == "OK"

    relay.cut()
    during = plane.add_device(INFO, "Phone added during the outage")
    answers = [login_answer(plane, during.password), login_answer(plane, "a-wrong-password-x")]
    assert all("UNAVAILABLE" in answer for answer in answers), answers
    assert not any("AUTHENTICATIONFAILED" in answer for answer in answers), answers

    relay.restore()
    deadline = time.monotonic() + 60
    while (answer := login_answer(plane, during.password)) != "OK":
        assert "AUTHENTICATIONFAILED" not in answer, answer
        assert time.monotonic() < deadline, f"never recovered: {answer}\n{plane.logs()}"
        time.sleep(0.5)
    assert "AUTHENTICATIONFAILED" in login_answer(plane, "a-wrong-password-x")
