"""``mailward doctor``'s lookups: the zone through the ``dns_resolvers`` setting
(dnspython), the certificate on disk, the listening ports. The rules that judge them
live in :mod:`mailward.core.mailservices.doctor`."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import dns.asyncresolver
import dns.exception
import dns.resolver
import dns.reversename
from cryptography import x509

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from mailward.core.discovery import served_domains
from mailward.core.mailservices.doctor import (
    Check,
    Found,
    certificate_check,
    forward_check,
    port_check,
    record_check,
    reverse_check,
)
from mailward.dnslookup import configured
from mailward.mail.tls import certificate_paths
from mailward.settings import Settings, parse_resolver


class Zone:
    """Answers of the configured resolvers, as :class:`Found`."""

    def __init__(self, resolvers: list[str], timeout_seconds: float) -> None:
        self.servers = [parse_resolver(r) for r in resolvers]
        self.timeout = timeout_seconds

    async def find(self, name: str, rtype: str) -> Found:
        resolver = configured(dns.asyncresolver.Resolver(configure=not self.servers), self)
        try:
            answer = await resolver.resolve(name, rtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return Found()
        except dns.exception.DNSException as exc:
            return Found(problem=exc.__class__.__name__)
        return Found(tuple(_text(rtype, rdata) for rdata in answer))


def _text(rtype: str, rdata: object) -> str:
    if rtype == "TXT":
        strings = getattr(rdata, "strings", ())
        return b"".join(strings).decode("utf-8", "replace")
    return str(rdata.to_text())  # type: ignore[attr-defined]


async def record_checks(services: Services, zone: Zone, domain: str) -> list[Check]:
    _view, records = await services.dns_records.records(Actor.operator(), domain)
    hostname = services.settings.hostname
    found = await asyncio.gather(*(zone.find(r.name, r.type) for r in records))
    return [record_check(r, f, hostname) for r, f in zip(records, found, strict=True)]


async def host_checks(zone: Zone, hostname: str) -> list[Check]:
    """The outgoing host: it has an address, and each address names it back."""
    v4, v6 = await asyncio.gather(zone.find(hostname, "A"), zone.find(hostname, "AAAA"))
    addresses = Found(v4.values + v6.values, v4.problem and v6.problem)
    checks = [forward_check(hostname, addresses)]
    for address in addresses.values:
        reverse = dns.reversename.from_address(address).to_text()
        checks.append(reverse_check(hostname, address, await zone.find(reverse, "PTR")))
    return checks


def certificate(settings: Settings, now: datetime) -> Check:
    paths = certificate_paths(settings.tls_dir, settings.tls_cert_file, settings.tls_key_file)
    try:
        cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
    except (OSError, ValueError):
        return certificate_check(settings.hostname, [], None, now)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = names.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    return certificate_check(settings.hostname, dns_names, cert.not_valid_after_utc, now)


def listening_ports(settings: Settings) -> dict[str, int]:
    s = settings
    return {
        "inbound SMTP": s.smtp_port,
        "submission": s.submission_port,
        "submissions": s.submissions_port,
        "IMAP": s.imap_port,
        "IMAPS": s.imaps_port,
        "POP3": s.pop3_port,
        "POP3S": s.pop3s_port,
        "web": s.http_port,
    }


async def port_checks(settings: Settings) -> list[Check]:
    host = settings.bind if settings.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
    roles = listening_ports(settings)
    results = await asyncio.gather(*(_listens(host, port, settings) for port in roles.values()))
    return [
        port_check(role, port, ok) for (role, port), ok in zip(roles.items(), results, strict=True)
    ]


async def _listens(host: str, port: int, settings: Settings) -> bool:
    if port == 0:
        return False
    try:
        async with asyncio.timeout(settings.dns_timeout_seconds):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def diagnose(services: Services, domain: str | None) -> list[Check]:
    """Every check: the records of ``domain`` (of every verified Mail Service when it is
    None), then the host, its certificate and the ports."""
    settings = services.settings
    zone = Zone(settings.dns_resolvers, settings.dns_timeout_seconds)
    checks: list[Check] = []
    for name in [domain] if domain else await served_domains(services.db):
        checks += await record_checks(services, zone, name)
    checks += await host_checks(zone, settings.hostname)
    checks.append(certificate(settings, services.clock.now()))
    checks += await port_checks(settings)
    return checks
