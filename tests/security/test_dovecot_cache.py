"""Dovecot in front of Mailward answers every login from Mailward, not from Dovecot's
auth cache, so that every device of an address works side by side and a revoked or
changed password stops at once (docs/PRODUCTION.md, "Why Dovecot's auth cache stays
off").

Measured with Dovecot 2.3.19 and its cache switched on (the Lua passdb's default cache
key is the user name): two devices of one address logging in in turn asked Mailward on
every login (the cache keeps one password an address); after one wrong password the
other device's right password was refused from the cache without asking Mailward; a
password tried before its device existed stayed refused after the device was created;
a revoked password kept working until ``doveadm auth cache flush``; with Mailward
unreachable, an expired entry still logged in ("Falling back to expired data from
cache"). Each test below fails under such a cache.
"""

from __future__ import annotations

import imaplib
import subprocess
from collections.abc import Iterator

import pytest

from mailward.core.access.actors import Actor
from tests.integration.dataplane import INFO, DataPlane, client_tls, running_plane

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

OK = "OK"
REFUSED = "AUTHENTICATIONFAILED"


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    yield from running_plane()


def login(plane: DataPlane, password: str) -> str:
    """``OK``, or the IMAP refusal's response code, for one full IMAPS login."""
    client = imaplib.IMAP4_SSL("127.0.0.1", plane.settings.imaps_port, ssl_context=client_tls())
    try:
        client.login(INFO, password)
    except imaplib.IMAP4.error as error:
        return REFUSED if REFUSED in str(error) else str(error)
    finally:
        client.shutdown()
    return OK


def test_the_generated_configuration_keeps_dovecots_auth_cache_off(plane: DataPlane) -> None:
    command = ["doveconf", "-c", str(plane.dovecot_conf), "-h", "auth_cache_size"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    passdb_args = [line for line in plane.dovecot_conf.read_text().splitlines() if "lua" in line]
    assert not [line for line in passdb_args if "cache_key" in line and "args" in line]


def test_two_devices_of_one_address_and_a_wrong_password_between_them(plane: DataPlane) -> None:
    laptop = plane.add_device(INFO, "Cache laptop")
    phone = plane.add_device(INFO, "Cache phone")
    answers = [login(plane, device.password) for device in (laptop, phone, laptop, phone)]
    assert answers == [OK] * 4
    assert login(plane, "a-wrong-password-for-this-address") == REFUSED
    assert login(plane, phone.password) == OK, plane.logs()
    assert login(plane, "another-wrong-password-for-it") == REFUSED
    assert login(plane, laptop.password) == OK, plane.logs()


def test_a_revoked_password_is_refused_on_the_very_next_login(plane: DataPlane) -> None:
    kept = plane.add_device(INFO, "Cache kept")
    revoked = plane.add_device(INFO, "Cache revoked")
    for _ in range(3):
        assert [login(plane, kept.password), login(plane, revoked.password)] == [OK, OK]

    plane.revoke(INFO, revoked.device.id)

    assert login(plane, revoked.password) == REFUSED
    assert login(plane, kept.password) == OK


def test_a_changed_password_works_at_once_and_the_old_one_never_again(plane: DataPlane) -> None:
    device = plane.add_device(INFO, "Cache password change")
    assert [login(plane, device.password) for _ in range(3)] == [OK] * 3

    async def change(services):  # type: ignore[no-untyped-def]
        return await services.devices.change_password(Actor.operator(), INFO, device.device.id)

    replaced = plane.run(change)

    assert login(plane, device.password) == REFUSED
    assert login(plane, replaced.password) == OK


def test_a_password_tried_before_its_device_existed_works_once_it_does(plane: DataPlane) -> None:
    password = "Cache-chosen: violet harbour 7 lanterns"
    warm = plane.add_device(INFO, "Cache warm device")
    assert login(plane, warm.password) == OK
    assert login(plane, password) == REFUSED

    plane.add_device(INFO, "Cache device made late", password=password)

    assert login(plane, password) == OK, plane.logs()
