"""``mailward doctor``'s rules: what is published (and served, listening, certified)
compared with what a Mail Service needs. Pure functions over what the edge looked up; each
answer is one :class:`Check` with ok / warn / fail and, when not ok, what to publish."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from mailward.core.mailservices.dns_records import DnsRecord

Status = Literal["ok", "warn", "fail"]
CERT_WARN_DAYS = 14
DMARC_POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Found:
    """The answer to one lookup: its values as text (TXT strings joined, MX as
    ``pref host.``, SRV as ``prio weight port host.``), or the problem that stopped it."""

    values: tuple[str, ...] = ()
    problem: str | None = None


def worst(checks: Sequence[Check]) -> Status:
    statuses = {c.status for c in checks}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"


# -- records -------------------------------------------------------------------


def record_check(record: DnsRecord, found: Found, hostname: str) -> Check:
    """One required record against the zone."""
    kind = _kind(record)
    name = f"{kind} {record.name}"
    if found.problem is not None:
        return Check(name, "fail", f"lookup failed ({found.problem}); publish: {record.zone_line}")
    judge = _JUDGES.get(kind, _exact)
    status, problem = judge(record, found.values, hostname)
    if status == "ok":
        return Check(name, "ok", problem or f"published: {_short(record.value)}")
    if status == "fail" and kind in _OPTIONAL:
        status = "warn"
    return Check(name, status, f"{problem}; publish: {record.zone_line}")


def _kind(record: DnsRecord) -> str:
    if record.type == "TXT":
        for prefix, kind in (
            ("v=spf1", "SPF"),
            ("v=DKIM1", "DKIM"),
            ("v=DMARC1", "DMARC"),
            ("v=STSv1", "MTA-STS"),
            ("v=TLSRPTv1", "TLS-RPT"),
        ):
            if record.value.startswith(prefix):
                return kind
    return record.type


# Records that help (client discovery, reports, the MTA-STS policy's name) but whose
# absence does not stop mail: missing ones warn.
_OPTIONAL = {"SRV", "CNAME", "TLS-RPT"}


def _tagged(values: Sequence[str], prefix: str) -> list[str]:
    return [v for v in values if v.strip().lower().startswith(prefix.lower())]


def _mx(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    wanted = record.value.split()[-1].rstrip(".").lower()
    hosts = [v.split()[-1].rstrip(".").lower() for v in values]
    if wanted in hosts:
        return "ok", f"mail for the domain comes to {wanted}"
    if hosts:
        return "fail", f"MX points to {', '.join(hosts)}, not {wanted}"
    return "fail", "no MX record"


def _spf(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    spf = _tagged(values, "v=spf1")
    if not spf:
        return "fail", "no SPF record"
    if len(spf) > 1:
        return "fail", f"{len(spf)} SPF records (receivers treat that as an error)"
    terms = spf[0].lower().split()
    ours = {f"a:{hostname.lower()}", "mx", "a", *(t for t in record.value.split()[1:-1])}
    if not ours.intersection(terms):
        return "fail", f"SPF does not include this host ({hostname}): {spf[0]}"
    if terms[-1] in ("+all", "all"):
        return "fail", "SPF ends with +all: anyone may send as the domain"
    return "ok", f"SPF includes this host: {spf[0]}"


def _key_of(text: str) -> str:
    found = re.search(r"(?:^|;)\s*p=([^;]*)", text)
    return re.sub(r"\s+", "", found.group(1)) if found else ""


def _dkim(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    keys = [_key_of(v) for v in _tagged(values, "v=DKIM1")]
    if not keys:
        return "fail", "no DKIM key published"
    if _key_of(record.value) in keys:
        return "ok", "the published key is Mailward's key"
    return "fail", "the published key is not Mailward's key for this selector"


def _dmarc(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    dmarc = _tagged(values, "v=DMARC1")
    if len(dmarc) != 1:
        return "fail", "no DMARC record" if not dmarc else "more than one DMARC record"
    tags = dict(
        (k.strip().lower(), v.strip())
        for k, _, v in (t.partition("=") for t in dmarc[0].split(";"))
    )
    policy = tags.get("p", "").lower()
    if policy not in DMARC_POLICIES:
        return "fail", f"DMARC record does not parse (p={policy or 'missing'}): {dmarc[0]}"
    if policy == "none":
        return "warn", "DMARC p=none: forged mail of the domain is still delivered"
    return "ok", f"DMARC p={policy}"


def _mta_sts(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    sts = _tagged(values, "v=STSv1")
    if not sts:
        return "warn", "no MTA-STS record (senders may deliver without TLS)"
    wanted = record.value.partition("id=")[2].strip()
    published = sts[0].partition("id=")[2].strip().rstrip(";")
    if published != wanted:
        return "fail", f"MTA-STS id {published or '(none)'} does not match the served policy's"
    return "ok", "MTA-STS id matches the served policy"


def _exact(record: DnsRecord, values: Sequence[str], hostname: str) -> tuple[Status, str]:
    def norm(v: str) -> str:
        return " ".join(v.lower().rstrip(".").split())

    if norm(record.value) in {norm(v) for v in values}:
        return "ok", ""
    if values:
        return "fail", f"published {', '.join(values)} instead"
    return "fail", "not published"


_Judge = Callable[[DnsRecord, Sequence[str], str], tuple[Status, str]]
_JUDGES: dict[str, _Judge] = {
    "MX": _mx,
    "SPF": _spf,
    "DKIM": _dkim,
    "DMARC": _dmarc,
    "MTA-STS": _mta_sts,
}


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


# -- the host ------------------------------------------------------------------


def forward_check(hostname: str, addresses: Found) -> Check:
    name = f"A/AAAA {hostname}"
    if addresses.problem is not None:
        return Check(name, "fail", f"lookup failed ({addresses.problem})")
    if not addresses.values:
        return Check(name, "fail", f"{hostname} has no address; publish its A (and AAAA) record")
    return Check(name, "ok", f"{hostname} is {', '.join(addresses.values)}")


def reverse_check(hostname: str, address: str, names: Found) -> Check:
    """Receivers refuse mail from an address whose PTR does not name the host."""
    check = f"PTR {address}"
    if names.problem is not None:
        return Check(check, "fail", f"lookup failed ({names.problem})")
    wanted = hostname.lower().rstrip(".")
    got = [n.lower().rstrip(".") for n in names.values]
    if wanted in got:
        return Check(check, "ok", f"{address} points back to {hostname}")
    shown = ", ".join(got) or "nothing"
    return Check(check, "fail", f"{address} points to {shown}; ask its provider for PTR {hostname}")


def certificate_check(
    hostname: str, names: Sequence[str], not_after: datetime | None, now: datetime
) -> Check:
    name = "certificate"
    if not_after is None:
        return Check(name, "fail", "no certificate could be read")
    if not any(_covers(pattern, hostname) for pattern in names):
        return Check(name, "fail", f"names {', '.join(names)} do not cover {hostname}")
    left = not_after - now
    if left <= timedelta(0):
        return Check(name, "fail", f"expired on {not_after:%Y-%m-%d}")
    if left < timedelta(days=CERT_WARN_DAYS):
        return Check(name, "warn", f"expires on {not_after:%Y-%m-%d}, in {left.days} days")
    return Check(name, "ok", f"covers {hostname}, valid until {not_after:%Y-%m-%d}")


def _covers(pattern: str, hostname: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), hostname.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.partition(".")[2] == pattern[2:]
    return pattern == host


def port_check(role: str, port: int, listening: bool) -> Check:
    if listening:
        return Check(f"port {port} ({role})", "ok", "listening")
    return Check(f"port {port} ({role})", "fail", "nothing listens there")
