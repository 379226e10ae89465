"""CPU time of the embedded plane's inbound checks, one signed message (SPF, DKIM, DMARC;
4 lookups answered by a local dnsmasq, no cache), with authheaders' own organizational
domain lookup (which parses the public suffix list at every call) and with Mailward's
(parsed once).

    python bench/inbound_checks.py [--rounds N]

Prints the medians and one JSON line; ratio = library / Mailward (higher is better).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import authheaders  # noqa: E402
import authheaders.dmarc_lookup  # noqa: E402
from tests.integration.test_inbound_checks import SenderKey, letter  # noqa: E402
from tests.security.dns_server import DnsServer  # noqa: E402

from mailward.mail import inbound_checks  # noqa: E402
from mailward.mail.inbound_checks import Arrival, InboundChecks  # noqa: E402


def use_org_domain(function: object) -> None:
    authheaders.get_org_domain = function
    authheaders.dmarc_lookup.get_org_domain = function


async def median_ms(checks: InboundChecks, arrival: Arrival, rounds: int) -> float:
    verdict = await checks.verdict(arrival)
    assert verdict.refusal is None and b"dmarc=pass" in verdict.header
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await checks.verdict(arrival)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    key = SenderKey()
    with tempfile.TemporaryDirectory() as work:
        dns = DnsServer(Path(work))
        dns.publish(
            {
                "sender.test": ["v=spf1 ip4:127.0.0.1 -all"],
                "s2026._domainkey.sender.test": [key.record()],
                "_dmarc.sender.test": ["v=DMARC1; p=reject"],
            }
        )
        try:
            checks = InboundChecks("mx.test", [dns.resolver], 3.0)
            content = key.sign(letter("alice@sender.test", "info@example.test", "x"), "sender.test")
            arrival = Arrival("127.0.0.1", "mx.sender.test", "alice@sender.test", content)
            use_org_domain(inbound_checks.LIBRARY_ORG_DOMAIN)
            library = asyncio.run(median_ms(checks, arrival, rounds))
            use_org_domain(inbound_checks.organizational_domain)
            mailward = asyncio.run(median_ms(checks, arrival, rounds))
        finally:
            dns.stop()
    print(f"library org-domain lookup: {library:8.1f} ms a message (median of {rounds})")
    print(f"Mailward's (list parsed once): {mailward:8.1f} ms a message")
    result = {"library_ms": library, "mailward_ms": mailward, "ratio": library / mailward}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
