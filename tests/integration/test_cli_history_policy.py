"""``mailward device history`` and ``mailward org policy``, run as real processes (their
JSON is an interface other checks rely on)."""

from __future__ import annotations

import json
from pathlib import Path

from mailward.auth.interfaces import AuthenticatedDevice
from mailward.auth.runtime import close_authenticator
from tests.integration.test_cli import Run, mailward  # noqa: F401  (the fixture)
from tests.support import make_settings, open_services


async def log_in(tmp_path: Path, database_url: str, password: str, ips: list[str]) -> None:
    services = await open_services(make_settings(tmp_path, database_url))
    auth = services.build_authenticator()
    try:
        for ip in ips:
            result = await auth.authenticate("info@example.test", password, "imap", ip, "K-9")
            assert isinstance(result, AuthenticatedDevice)
    finally:
        await close_authenticator(auth)  # flushes the history
        await services.close()


async def test_device_history_json_lists_logins_newest_first(
    mailward: Run,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    added = json.loads(
        mailward("device", "add", "info@example.test", "--name", "Phone", "--json").stdout
    )
    assert (
        json.loads(mailward("device", "history", "info@example.test", "Phone", "--json").stdout)
        == []
    )
    await log_in(tmp_path, database_url, added["password"], ["198.51.100.7"])
    await log_in(tmp_path, database_url, added["password"], ["203.0.113.9"])
    out = mailward("device", "history", "info@example.test", str(added["id"]), "--json").stdout
    history = json.loads(out)
    assert [(h["ip"], h["protocol"], h["client"], h["result"]) for h in history] == [
        ("203.0.113.9", "imap", "K-9", "ok"),
        ("198.51.100.7", "imap", "K-9", "ok"),
    ]
    assert set(history[0]) == {"at", "ip", "protocol", "client", "result"}
    assert added["password"] not in out
    plain = mailward("device", "history", "info@example.test", "Phone").stdout
    assert "203.0.113.9\timap\tK-9\tok" in plain


def test_org_policy_sets_and_prints_the_unused_device_policy(mailward: Run) -> None:  # noqa: F811
    default = json.loads(mailward("org", "policy", "Corp", "--json").stdout)
    assert default == {
        "organization": "Corp",
        "login_history_days": 90,
        "unused_expiry": True,
        "unused_notice_days": 90,
        "unused_revoke_days": 120,
    }
    mailward("org", "policy", "Corp", "--unused-notice-days", "30", "--unused-revoke-days", "45")
    changed = json.loads(mailward("org", "policy", "Corp", "--json").stdout)
    assert (changed["unused_notice_days"], changed["unused_revoke_days"]) == (30, 45)
    off = mailward("org", "policy", "Corp", "--off").stdout
    assert "never expire" in off
    assert json.loads(mailward("org", "policy", "Corp", "--json").stdout)["unused_expiry"] is False
    refused = mailward(
        "org", "policy", "Corp", "--unused-notice-days", "50", "--unused-revoke-days", "40",
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "must come after the notice" in refused.stderr
    assert "Traceback" not in refused.stderr
