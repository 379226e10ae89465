"""TXT lookups for domain verification, with dnspython, bounded in time.

Resolvers come from the ``dns_resolvers`` setting ("ip" or "ip:port", "[v6]:port"), or
the system's ``/etc/resolv.conf`` when the list is empty. No answer is cached here: a
record just published is seen at the next check.
"""

from __future__ import annotations

import logging
from typing import Protocol, TypeVar

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdtypes.ANY.TXT
import dns.resolver

from mailward.core.mailservices.domainproof import DnsProblem, TxtAnswer
from mailward.settings import parse_resolver

log = logging.getLogger(__name__)

_FAILURES: tuple[tuple[type[Exception], DnsProblem], ...] = (
    (dns.resolver.NXDOMAIN, DnsProblem.NXDOMAIN),
    (dns.resolver.LifetimeTimeout, DnsProblem.TIMEOUT),
    (dns.resolver.NoNameservers, DnsProblem.SERVFAIL),
)


class DnsTxtLookup:
    def __init__(self, resolvers: list[str], timeout_seconds: float) -> None:
        self.servers = [parse_resolver(r) for r in resolvers]
        self.timeout = timeout_seconds

    def _resolver(self) -> dns.asyncresolver.Resolver:
        return configured(dns.asyncresolver.Resolver(configure=not self.servers), self)

    async def txt(self, name: str) -> TxtAnswer:
        try:
            answer = await self._resolver().resolve(name, "TXT", search=False)
        except dns.resolver.NoAnswer:
            return TxtAnswer(())
        except dns.resolver.NoResolverConfiguration:
            return TxtAnswer(problem=DnsProblem.NO_RESOLVER)
        except dns.exception.DNSException as exc:
            return TxtAnswer(problem=_problem_of(exc))
        texts = []
        for rdata in answer:
            if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
                texts.append(b"".join(rdata.strings).decode("utf-8", "replace"))
        return TxtAnswer(tuple(texts))


R = TypeVar("R", bound=dns.resolver.BaseResolver)


class ResolverSettings(Protocol):
    @property
    def servers(self) -> list[tuple[str, int]]: ...
    @property
    def timeout(self) -> float: ...


def configured(resolver: R, wanted: ResolverSettings) -> R:
    """``resolver`` asking the configured servers (if any), within the time limit."""
    if wanted.servers:
        resolver.nameservers = [dns.nameserver.Do53Nameserver(h, p) for h, p in wanted.servers]
    resolver.timeout = wanted.timeout
    resolver.lifetime = wanted.timeout
    return resolver


def _problem_of(exc: dns.exception.DNSException) -> DnsProblem:
    for kind, problem in _FAILURES:
        if isinstance(exc, kind):
            return problem
    log.info("TXT lookup failed: %s", exc.__class__.__name__)
    return DnsProblem.ERROR
