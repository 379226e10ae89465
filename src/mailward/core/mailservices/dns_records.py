"""Every DNS record a Mail Service needs, in one list: mail reaches this server (MX), its
mail is accepted elsewhere (SPF, DKIM, DMARC, MTA-STS, TLS-RPT), and clients find their
settings (SRV, autoconfig). The DNS page, ``mailward dns`` and the checks that compare
the zone with it all read this list.

Names are absolute (ending in a dot); values are the record's data as published (TXT
values unquoted: ``zone_line`` quotes them and splits strings longer than 255 bytes).
An MX, CNAME or SRV record must name a host, never an address: when the web manager's
host (``public_url``, derived from ``bind`` when unset) or ``hostname`` is an IP address,
the records that would point at it are left out and :func:`dns_warnings` says why.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from mailward.core.access.actors import Actor
from mailward.core.clientsettings import web_host
from mailward.core.mailservices.dkim import DkimKeyService, DkimKeyView
from mailward.core.mailservices.service import MailServiceService, MailServiceView
from mailward.errors import InvalidInput
from mailward.settings import Settings

TTL = 3600
MTA_STS_MAX_AGE = 7 * 24 * 3600
TXT_STRING_BYTES = 255


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    value: str
    purpose: str

    @property
    def zone_line(self) -> str:
        data = txt_strings(self.value) if self.type == "TXT" else self.value
        return f"{self.name} {TTL} IN {self.type} {data}"

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "value": self.value, "purpose": self.purpose}


def txt_strings(value: str) -> str:
    """A TXT value as zone-file strings: quoted, at most 255 bytes each."""
    escaped = [
        value[i : i + TXT_STRING_BYTES].replace("\\", "\\\\").replace('"', '\\"')
        for i in range(0, max(len(value), 1), TXT_STRING_BYTES)
    ]
    return " ".join(f'"{s}"' for s in escaped)


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def dns_warnings(settings: Settings) -> list[str]:
    """Why records are missing from :func:`dns_records`, in words for the administrator."""
    warnings = []
    web = web_host(settings)
    if is_address(web):
        origin = "public_url names" if settings.public_url else "public_url is not set, so"
        warnings.append(
            f"{origin} the web manager's address is {web}, an IP address: a CNAME or SRV "
            "record cannot point at an address, so the mta-sts, autoconfig and autodiscover "
            "records are left out. Set public_url to the manager's https:// URL on a host "
            "name (for example https://mail.example.org) to get them."
        )
    if is_address(settings.hostname):
        warnings.append(
            f"hostname is {settings.hostname}, an IP address: an MX or SRV record cannot "
            "point at an address, so the MX record and the IMAP, submission and POP3 SRV "
            "records are left out. Set hostname to the mail server's host name to get them."
        )
    return warnings


def reports_address(domain: str) -> str:
    """Where DMARC and TLS reports for the domain go (RFC 5321 requires postmaster)."""
    return f"postmaster@{domain}"


def spf_value(settings: Settings) -> str:
    """This host may send for the domain (its MX and its name), and the smarthost if any."""
    mechanisms = ["mx", _spf_host(settings.hostname)]
    if settings.smarthost and settings.smarthost != settings.hostname:
        mechanisms.append(_spf_host(settings.smarthost))
    return "v=spf1 " + " ".join(mechanisms) + " -all"


def _spf_host(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"a:{host}"
    return f"ip{ip.version}:{ip}"


def dmarc_value(settings: Settings, domain: str) -> str:
    return (
        f"v=DMARC1; p={settings.dmarc_policy}; rua=mailto:{reports_address(domain)}; "
        "adkim=r; aspf=r"
    )


def mta_sts_policy(settings: Settings) -> str:
    """The policy file served at ``https://mta-sts.DOMAIN/.well-known/mta-sts.txt``
    (RFC 8461): the same for every domain of this server."""
    lines = [
        "version: STSv1",
        f"mode: {settings.mta_sts_mode}",
        f"mx: {settings.hostname}",
        f"max_age: {MTA_STS_MAX_AGE}",
    ]
    return "\r\n".join(lines) + "\r\n"


def mta_sts_id(settings: Settings) -> str:
    """Changes whenever the policy does, so senders fetch it again."""
    return hashlib.sha256(mta_sts_policy(settings).encode()).hexdigest()[:20]


def dkim_records(keys: Sequence[DkimKeyView]) -> list[DnsRecord]:
    return [
        DnsRecord(
            k.record_name,
            "TXT",
            k.record_value,
            f"DKIM key {k.selector} ({k.algorithm}), signs outgoing mail"
            if k.active
            else f"DKIM key {k.selector} ({k.algorithm}), retired: keep until removed",
        )
        for k in keys
    ]


def sending_records(
    settings: Settings, domain: str, dkim: Sequence[DkimKeyView]
) -> list[DnsRecord]:
    """What receivers check before they accept the domain's mail."""
    d, web = f"{domain}.", web_host(settings)
    reports = reports_address(domain)
    policy_host = [
        DnsRecord(f"mta-sts.{d}", "CNAME", f"{web}.", "MTA-STS: the policy file is served here")
    ]
    if is_address(web):
        policy_host = []  # see dns_warnings
    return [
        DnsRecord(d, "TXT", spf_value(settings), "SPF: this server may send the domain's mail"),
        *dkim_records(dkim),
        DnsRecord(
            f"_dmarc.{d}",
            "TXT",
            dmarc_value(settings, domain),
            f"DMARC policy; aggregate reports go to {reports}",
        ),
        DnsRecord(
            f"_mta-sts.{d}",
            "TXT",
            f"v=STSv1; id={mta_sts_id(settings)}",
            "MTA-STS: senders must use TLS to reach this server (the id follows the policy)",
        ),
        *policy_host,
        DnsRecord(
            f"_smtp._tls.{d}",
            "TXT",
            f"v=TLSRPTv1; rua=mailto:{reports}",
            f"TLS-RPT: TLS failure reports go to {reports}",
        ),
    ]


def client_records(settings: Settings, domain: str) -> list[DnsRecord]:
    """What mail clients look up to find their settings."""
    return [*mail_client_records(settings, domain), *web_client_records(settings, domain)]


def mail_client_records(settings: Settings, domain: str) -> list[DnsRecord]:
    """The SRV records naming the mail server (none when it is an address)."""
    if is_address(settings.hostname):
        return []
    host, d = f"{settings.hostname}.", f"{domain}."
    return [
        DnsRecord(f"_imaps._tcp.{d}", "SRV", f"0 1 {settings.imaps_port} {host}", "IMAP over TLS"),
        DnsRecord(
            f"_submissions._tcp.{d}",
            "SRV",
            f"0 1 {settings.submissions_port} {host}",
            "sending (SMTP submission over TLS)",
        ),
        DnsRecord(f"_pop3s._tcp.{d}", "SRV", f"10 1 {settings.pop3s_port} {host}", "POP3 over TLS"),
    ]


def web_client_records(settings: Settings, domain: str) -> list[DnsRecord]:
    """The records naming the web manager (none when it is an address)."""
    if is_address(web_host(settings)):
        return []
    web, d = f"{web_host(settings)}.", f"{domain}."
    return [
        DnsRecord(f"autoconfig.{d}", "CNAME", web, "Thunderbird finds its settings here"),
        DnsRecord(f"autodiscover.{d}", "CNAME", web, "Outlook finds its settings here"),
        DnsRecord(f"_autodiscover._tcp.{d}", "SRV", f"0 1 443 {web}", "Outlook's fallback lookup"),
    ]


def dns_records(
    settings: Settings, domain: str, dkim: Sequence[DkimKeyView] = ()
) -> list[DnsRecord]:
    """Every record ``domain`` needs, MX first, with the given DKIM keys."""
    mx = DnsRecord(
        f"{domain}.", "MX", f"10 {settings.hostname}.", "incoming mail is delivered to this server"
    )
    mxs = [] if is_address(settings.hostname) else [mx]
    return [*mxs, *sending_records(settings, domain, dkim), *client_records(settings, domain)]


@dataclass(eq=False)
class DnsRecordService:
    """The records of one Mail Service, for whoever may see it."""

    settings: Settings
    mail_services: MailServiceService
    dkim: DkimKeyService

    async def records(
        self, actor: Actor, key: int | str
    ) -> tuple[MailServiceView, list[DnsRecord]]:
        mail_service = await self.mail_services.get(actor, key)
        keys = await self.dkim.list_keys(actor, mail_service.id)
        return mail_service, dns_records(self.settings, mail_service.domain, keys)

    def warnings(self) -> list[str]:
        """Why records are missing from :meth:`records` (see :func:`dns_warnings`)."""
        return dns_warnings(self.settings)

    async def mta_sts_policy_for(self, host: str) -> str | None:
        """The policy when ``host`` is ``mta-sts.DOMAIN`` of a verified Mail Service."""
        name = host.strip().lower().partition(":")[0].rstrip(".")
        prefix = "mta-sts."
        if not name.startswith(prefix):
            return None
        try:
            local = await self.mail_services.is_local_domain(name[len(prefix) :])
        except InvalidInput:
            return None
        return mta_sts_policy(self.settings) if local else None
