"""The operator's CLI: ``mailservice create`` is trusted (verified at once), ``mailservice
verify DOMAIN`` runs one DNS check (against a real dnsmasq) and prints the state, and
``mailservice list --json`` shows each Mail Service's ``state``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mailward.core.access.actors import Actor
from tests.security.dns_server import DnsServer
from tests.support import ADMIN_PASSWORD, make_settings, open_services


def _cli(tmp_path: Path, url: str, dns: DnsServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env.update(
        MAILWARD_DATA_DIR=str(tmp_path / "data"),
        MAILWARD_DNS_RESOLVERS=json.dumps([dns.resolver]),
        MAILWARD_DNS_TIMEOUT_SECONDS="1",
    )
    command = [sys.executable, "-m", "mailward.cli", "--database-url", url, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


async def test_verify_prints_the_state_and_list_shows_it(
    tmp_path: Path, database_url: str, dns: DnsServer
) -> None:
    services = await open_services(make_settings(tmp_path, database_url))
    try:
        op = Actor.operator()
        owner = await services.accounts.create(op, "boss@corp.test", ADMIN_PASSWORD, "Boss")
        org = await services.organizations.create(op, "Corp", legal_representative=owner.email)
        await services.mail_services.create(op, org.id, "trusted.test")
        claim = await services.mail_services.create(Actor(owner.id, owner.email), org.id, "c.test")
    finally:
        await services.close()
    assert claim.record is not None

    pending = _cli(tmp_path, database_url, dns, "mailservice", "verify", "c.test")
    assert pending.returncode == 0, pending.stderr
    assert "c.test: pending" in pending.stdout and claim.record.value in pending.stdout

    dns.publish({claim.record.name: [claim.record.value]})
    done = _cli(tmp_path, database_url, dns, "mailservice", "verify", "c.test")
    assert "c.test: verified" in done.stdout, done.stdout + done.stderr

    listed = _cli(tmp_path, database_url, dns, "mailservice", "list", "--org", "Corp", "--json")
    states = {m["domain"]: m["state"] for m in json.loads(listed.stdout)}
    assert states == {"c.test": "verified", "trusted.test": "verified"}

    garbage = _cli(tmp_path, database_url, dns, "mailservice", "verify", "not a domain")
    assert garbage.returncode != 0 and "Traceback" not in garbage.stderr
