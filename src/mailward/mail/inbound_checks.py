"""SPF, DKIM and DMARC of mail arriving on the embedded inbound SMTP port, computed by
pyspf, dkimpy and authheaders, every DNS lookup through the ``dns_resolvers`` setting.

The verdict: an ``Authentication-Results`` header to prepend, or a refusal: 451 when a
lookup failed (the sender retries later; mail is neither refused nor taken unchecked on
a DNS outage), 550 when the From domain's DMARC policy is ``reject`` and DMARC fails."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.resources
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import authheaders
import authheaders.dmarc_lookup
import dkim
import dns.exception
import dns.resolver
import spf
from authres import AuthenticationResultsHeader
from authres.core import DKIMAuthenticationResult, SPFAuthenticationResult
from authres.dmarc import DMARCAuthenticationResult

from mailward.dnslookup import configured
from mailward.settings import parse_resolver

log = logging.getLogger(__name__)

TEMPFAIL = "451 4.7.0 Could not check the sender's SPF, DKIM or DMARC records, try again later"
DMARC_REJECT = "550 5.7.1 The DMARC policy of {} rejects this message (it is not authenticated)"


class DnsTempfail(Exception):
    """A lookup that neither answered nor said 'no such record' (timeout, SERVFAIL)."""


@dataclass
class Lookups:
    """The resolver of one check, and the lookups that failed during it (the libraries
    turn some failures into results of their own; a failure recorded here wins)."""

    resolver: dns.resolver.Resolver
    failed: list[str] = field(default_factory=list)


_LOOKUPS: contextvars.ContextVar[Lookups | None] = contextvars.ContextVar(
    "mailward_inbound_lookups", default=None
)


@dataclass(frozen=True)
class Arrival:
    """What the SMTP session knows about a message: the peer, its EHLO, MAIL FROM."""

    ip: str
    helo: str
    mail_from: str
    content: bytes


@dataclass(frozen=True)
class Verdict:
    header: bytes
    refusal: str | None = None


@dataclass(frozen=True)
class ResolverChoice:
    servers: list[tuple[str, int]]
    timeout: float


class InboundChecks:
    def __init__(self, authserv_id: str, resolvers: list[str], timeout_seconds: float) -> None:
        self.authserv_id = authserv_id
        self.choice = ResolverChoice([parse_resolver(r) for r in resolvers], timeout_seconds)

    async def verdict(self, arrival: Arrival) -> Verdict:
        # pyspf and dkimpy block; contextvars follow into the worker thread.
        return await asyncio.to_thread(self._verdict, arrival)

    def _verdict(self, arrival: Arrival) -> Verdict:
        resolver = configured(dns.resolver.Resolver(configure=not self.choice.servers), self.choice)
        lookups = Lookups(resolver)
        token = _LOOKUPS.set(lookups)
        try:
            results = self._results(arrival)
        except DnsTempfail:
            results = []
        finally:
            _LOOKUPS.reset(token)
        if lookups.failed:
            log.info("inbound checks: DNS failed (%s)", ", ".join(lookups.failed))
            return Verdict(b"", TEMPFAIL)
        header = str(AuthenticationResultsHeader(authserv_id=self.authserv_id, results=results))
        return Verdict(_header_line(header), refusal_of(results))

    def _results(self, arrival: Arrival) -> list[Any]:
        spf_result = self._spf(arrival)
        dkim_result = _dkim(arrival.content)
        dmarc_result = authheaders.check_dmarc(
            arrival.content, spf_result, dkim_result, dnsfunc=txt_record
        )
        return [spf_result, dkim_result, dmarc_result]

    def _spf(self, arrival: Arrival) -> SPFAuthenticationResult:
        timeout = self.choice.timeout
        query = spf.query(
            i=arrival.ip,
            s=arrival.mail_from,
            h=arrival.helo,
            timeout=timeout,
            querytime=4 * timeout,
        )
        result, _code, reason = query.check()
        return SPFAuthenticationResult(
            result=result, reason=reason, smtp_mailfrom=arrival.mail_from, smtp_helo=arrival.helo
        )


def _dkim(content: bytes) -> Any:
    headers, _body = dkim.rfc822_parse(content)
    if not any(name.lower() == b"dkim-signature" for name, _value in headers):
        return DKIMAuthenticationResult(result="none")
    return authheaders.check_dkim(content, dnsfunc=txt_record)


def refusal_of(results: list[Any]) -> str | None:
    """451 when any lookup failed, 550 when DMARC fails under ``p=reject``."""
    if any(r.result == "temperror" for r in results):
        return TEMPFAIL
    for r in results:
        failed = isinstance(r, DMARCAuthenticationResult) and r.result == "fail"
        if failed and getattr(r, "policy", None) == "reject":
            return DMARC_REJECT.format(r.header_from)
    return None


def without_forged_results(content: bytes, authserv_id: str) -> bytes:
    """``content`` without the ``Authentication-Results`` fields that claim to come from
    this server (RFC 8601, section 5): a sender cannot fake a pass in our name."""
    end = content.find(b"\r\n\r\n")
    if end == -1:
        return content
    lines = content[: end + 2].split(b"\r\n")[:-1]
    claim = re.compile(
        rb"authentication-results:\s*" + re.escape(authserv_id.encode()) + rb"\s*(;|$)", re.I
    )
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(claim.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(line + b"\r\n" for line in kept) + content[end + 2 :]


def _header_line(header: str) -> bytes:
    folded = header.replace("; ", ";\r\n\t")
    return (folded + "\r\n").encode("utf-8", "replace")


def _resolve(name: str | bytes, qtype: str) -> dns.resolver.Answer | None:
    lookups = _LOOKUPS.get()
    if lookups is None:
        raise DnsTempfail("no resolver chosen for this check")
    text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    try:
        return lookups.resolver.resolve(text, qtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.exception.DNSException as exc:
        failure = f"{qtype} {text}: {exc.__class__.__name__}"
        lookups.failed.append(failure)
        raise DnsTempfail(failure) from exc


def txt_record(name: str | bytes, timeout: float = 5) -> str | None:
    """dkimpy's and authheaders' ``dnsfunc``: the policy/key TXT record of ``name``."""
    answer = _resolve(name, "TXT")
    if answer is None:
        return None
    texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    preferred = [t for t in texts if t.startswith(("v=DMARC1", "v=DKIM1"))]
    return (preferred or texts)[0] if texts else None


def spf_lookup(name: str, qtype: str, strict: object = True, timeout: float = 5) -> list[Any]:
    """pyspf's ``DNSLookup``, in its answer format, through the chosen resolver."""
    try:
        answer = _resolve(name, qtype)
    except DnsTempfail as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    return [((name, qtype), _spf_value(qtype, rdata)) for rdata in (answer or ())]


def _spf_value(qtype: str, rdata: Any) -> Any:
    if qtype in ("A", "AAAA"):
        return rdata.address
    if qtype == "MX":
        return (rdata.preference, rdata.exchange)
    if qtype == "PTR":
        return rdata.target.to_text(True)
    return rdata.strings  # TXT, SPF


@functools.cache
def _public_suffixes() -> Any:
    ref = importlib.resources.files("authheaders") / "public_suffix_list.txt"
    with importlib.resources.as_file(ref) as location, open(location, encoding="utf-8") as lines:
        return authheaders.dmarc_lookup.PublicSuffixList(lines)


@functools.lru_cache(maxsize=4096)
def organizational_domain(domain: str | None) -> Any:
    """authheaders' ``get_org_domain`` with its own packaged list, parsed once: authheaders
    parses the 10,000-rule file on every call, four times a DMARC check (measured: 260 ms
    a message, now about 2 ms)."""
    return _public_suffixes().get_public_suffix(domain)


LIBRARY_ORG_DOMAIN = authheaders.dmarc_lookup.get_org_domain  # bench/inbound_checks.py
authheaders.get_org_domain = organizational_domain
authheaders.dmarc_lookup.get_org_domain = organizational_domain

# pyspf reads its DNS through this module-level hook; ours answers from the resolver
# the running check chose (a context variable), so several servers can share a process.
spf.DNSLookup = spf_lookup
