"""``mailward doctor DOMAIN --json`` against a real DNS server (dnsmasq) serving a zone the
test writes from Mailward's own list of records: all OK when the zone is right, each
missing or wrong record named when it is not; the certificate, ports and the host's
forward and reverse DNS are checked too."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.mailservices.dns_records import DnsRecord
from mailward.mail.tls import certificate_paths, write_self_signed
from tests.integration.test_web_security import signed_in
from tests.security.dns_server import DnsServer
from tests.support import ADMIN_PASSWORD, World, make_settings, open_services

HOST = "mail.example.test"
ROLES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "http")


@pytest.fixture
def listeners() -> Iterator[dict[str, int]]:
    """A listening socket for every port the doctor expects."""
    sockets = []
    for _ in ROLES:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        sockets.append(s)
    try:
        yield {role: s.getsockname()[1] for role, s in zip(ROLES, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def environment(tmp_path: Path, dns: DnsServer, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env.update(
        MAILWARD_DATA_DIR=str(tmp_path / "data"),
        MAILWARD_HOSTNAME=HOST,
        MAILWARD_PUBLIC_URL=f"https://{HOST}",  # a CNAME names a host, never bind's address
        MAILWARD_DNS_RESOLVERS=json.dumps([dns.resolver]),
        MAILWARD_DNS_TIMEOUT_SECONDS="2",
        **{f"MAILWARD_{role.upper()}_PORT": str(port) for role, port in ports.items()},
    )
    return env


async def required_records(tmp_path: Path, url: str, env: dict[str, str]) -> list[DnsRecord]:
    ports = {k[9:].lower(): int(v) for k, v in env.items() if k.endswith("_PORT")}
    settings = make_settings(
        tmp_path, url, hostname=HOST, public_url=env["MAILWARD_PUBLIC_URL"], **ports
    )
    write_self_signed(certificate_paths(settings.tls_dir, None, None), HOST)
    services = await open_services(settings)
    try:
        op = Actor.operator()
        owner = await services.accounts.create(op, "boss@corp.test", ADMIN_PASSWORD, "Boss")
        org = await services.organizations.create(op, "Corp", legal_representative=owner.email)
        await services.mail_services.create(op, org.id, "example.test")
        _view, records = await services.dns_records.records(op, "example.test")
        return records
    finally:
        await services.close()


def publish(dns: DnsServer, records: list[DnsRecord]) -> None:
    """The zone as dnsmasq serves it: TXT, MX, SRV, CNAME, and the host with its PTR."""
    txt: dict[str, list[str]] = {}
    extra: list[str] = []
    for r in records:
        name = r.name.rstrip(".")
        parts = r.value.split()
        if r.type == "TXT":
            txt.setdefault(name, []).append(r.value)
        elif r.type == "MX":
            extra.append(f"--mx-host={name},{parts[1].rstrip('.')},{parts[0]}")
        elif r.type == "SRV":
            prio, weight, port, target = parts
            extra.append(f"--srv-host={name},{target.rstrip('.')},{port},{prio},{weight}")
        elif r.type == "CNAME":
            extra.append(f"--cname={name},{r.value.rstrip('.')}")
    dns.publish(txt, hosts={HOST: "127.0.0.1"}, extra=extra)


def doctor(
    env: dict[str, str], url: str, domain: str | None = "example.test"
) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "mailward.cli", "--database-url", url, "doctor"]
    command += [domain, "--json"] if domain else ["--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, {c["name"]: c for c in json.loads(done.stdout)["checks"]}


async def test_doctor_reports_ok_on_a_correct_zone_and_names_what_is_wrong_on_a_broken_one(
    tmp_path: Path, database_url: str, dns: DnsServer, listeners: dict[str, int]
) -> None:
    env = environment(tmp_path, dns, listeners)
    records = await required_records(tmp_path, database_url, env)
    publish(dns, records)

    code, checks = doctor(env, database_url)
    problems = {n: c["detail"] for n, c in checks.items() if c["status"] != "ok"}
    assert code == 0 and problems == {}
    assert {c["status"] for c in checks.values()} == {"ok"}
    kinds = {name.split()[0] for name in checks}
    assert {"MX", "SPF", "DKIM", "DMARC", "MTA-STS", "TLS-RPT", "SRV", "CNAME"} <= kinds
    assert {"A/AAAA", "PTR", "certificate", "port"} <= kinds

    broken = []
    for r in records:
        if r.type == "MX" or r.value.startswith("v=DMARC1"):
            continue  # missing
        if r.value.startswith("v=DKIM1"):
            r = DnsRecord(r.name, r.type, r.value[:-12] + "AAAAAAAAAAAA", r.purpose)
        elif r.value.startswith("v=STSv1"):
            r = DnsRecord(r.name, r.type, "v=STSv1; id=20190101", r.purpose)
        elif r.value.startswith("v=spf1"):
            r = DnsRecord(r.name, r.type, "v=spf1 ip4:192.0.2.9 -all", r.purpose)
        broken.append(r)
    publish(dns, broken)

    code, checks = doctor(env, database_url)
    assert code == 1
    failed = {name.split()[0]: c["detail"] for name, c in checks.items() if c["status"] == "fail"}
    assert set(failed) == {"MX", "SPF", "DKIM", "DMARC", "MTA-STS"}
    assert "no MX record" in failed["MX"] and f"10 {HOST}." in failed["MX"]
    assert "does not include this host" in failed["SPF"]
    assert "not Mailward's key" in failed["DKIM"] and "publish: " in failed["DKIM"]
    assert "no DMARC record" in failed["DMARC"] and "_dmarc.example.test." in failed["DMARC"]
    assert "does not match the served policy" in failed["MTA-STS"]

    every_domain = doctor(env, database_url, None)  # no DOMAIN: every verified Mail Service
    assert every_domain == (code, checks)


async def test_the_manager_shows_the_same_checks_on_the_mail_service_page(
    world: World, clock: FrozenClock, dns: DnsServer
) -> None:
    world.services.settings.dns_resolvers = [dns.resolver]
    ms_id = (await world.services.mail_services.get(world.admin, world.domain)).id
    admin = await signed_in(world, clock, world.admin)
    try:
        page = await admin.get(f"/mail-services/{ms_id}")
        assert f'href="/mail-services/{ms_id}/checks"' in page.text
        checks = await admin.get(f"/mail-services/{ms_id}/checks")
    finally:
        await admin.client.aclose()
    assert checks.status_code == 200
    assert 'data-status="fail"' in checks.text and "fix each FAIL" in checks.text
    assert "MX example.test." in checks.text and "no MX record" in checks.text
    assert "publish: example.test. 3600 IN MX 10" in checks.text
