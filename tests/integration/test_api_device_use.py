"""The API's device history and device policy (issue 16), on SQLite and PostgreSQL."""

from __future__ import annotations

from mailward.auth.runtime import close_authenticator
from tests.integration.api_world import ApiWorld


async def test_logins_of_a_device_newest_first_for_those_who_see_it(api: ApiWorld) -> None:
    world = api.world
    auth = world.services.build_authenticator()
    try:  # the Front desk's password is not known here: change it to log in with it
        changed = await world.services.devices.change_password(
            world.admin, api.ids["addr"], api.ids["dev"]
        )
        await auth.authenticate(world.address, changed.password, "pop3", "198.51.100.4", "Outlook")
    finally:
        await close_authenticator(auth)
    answer = await api.call("admin", "GET", "/addresses/{addr}/devices/{dev}/logins")
    assert answer.status_code == 200
    assert [
        (h["ip"], h["protocol"], h["client"], h["result"], h["count"]) for h in answer.json()
    ] == [("198.51.100.4", "pop3", "Outlook", "ok", 1)]
    assert changed.password not in answer.text
    user = await api.call("user", "GET", "/addresses/{addr}/devices/{dev}/logins")
    assert user.status_code == 404  # a user member sees only their own devices
    other = await api.call("other", "GET", "/addresses/{addr}/devices/{dev}/logins")
    assert other.status_code == 404


async def test_the_device_policy_is_read_by_members_and_changed_by_administrators(
    api: ApiWorld,
) -> None:
    read = await api.call("user", "GET", "/organizations/{org}/device-policy")
    assert read.status_code == 200
    assert (read.json()["unused_notice_days"], read.json()["unused_revoke_days"]) == (90, 120)
    refused = await api.call(
        "user", "PATCH", "/organizations/{org}/device-policy", {"unused_notice_days": 10}
    )
    assert refused.status_code == 403
    changed = await api.call(
        "admin", "PATCH", "/organizations/{org}/device-policy",
        {"unused_notice_days": 30, "unused_revoke_days": 60, "login_history_days": 14},
    )  # fmt: skip
    assert changed.status_code == 200
    assert changed.json()["login_history_days"] == 14
    bad = await api.call(
        "admin", "PATCH", "/organizations/{org}/device-policy", {"unused_revoke_days": 20}
    )
    assert bad.status_code == 422 and "must come after the notice" in bad.text
    off = await api.call(
        "admin", "PATCH", "/organizations/{org}/device-policy", {"unused_expiry": False}
    )
    assert off.json()["unused_notice_days"] is None
    other = await api.call("other", "GET", "/organizations/{org}/device-policy")
    assert other.status_code == 404
