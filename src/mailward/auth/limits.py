"""Named login rate limits, checked before any Argon2id work (DESIGN §3, §7).

Limits stop guessing, not owners: a right generated password is accepted before the
limiter is asked at all (see :mod:`mailward.auth.authenticator`), so these counters
gate only what can be guessed (chosen passwords) and what costs (Argon2id).

Failures are counted per (address, client network), per client network and per
address. A client network is an IPv4 address, or the IPv6 /64 (``ipv6_prefix_length``)
holding the address: one IPv6 host owns billions of addresses, not one. There is no
server-wide failure ceiling: a counter that many networks can fill together would
lock every organization out; the total cost is bounded by the Argon2id queue instead.
The same wrong password from the same (address, network) counts once per window: a
stale client retrying every minute must not lock its owner out. A network that has
logged in to an address is exempt from the limits others can fill (the network and
address ones), never from its own per-(address, network) limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailward.core.limits import Counter, Limit, Limits
from mailward.core.networks import client_network
from mailward.limitstore import RateLimitStore
from mailward.ops.metrics import RATE_LIMIT_REFUSALS

ADDRESS_IP_LIMIT = Limit("address_ip.auth", 10, 900)
IP_LIMIT = Limit("ip.auth", 50, 900)
ADDRESS_LIMIT = Limit("address.auth", 100, 900)


@dataclass(frozen=True)
class AuthLimits:
    address_ip: Limit = ADDRESS_IP_LIMIT
    ip: Limit = IP_LIMIT
    address: Limit = ADDRESS_LIMIT
    success_memory: float = 24 * 3600
    ipv6_prefix_length: int = 64


@dataclass(frozen=True)
class Limited:
    limit: str
    retry_after: float


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: over a limit or not, and whether the network is exempt."""

    limited: Limited | None
    exempt: bool


class RateLimiter:
    def __init__(self, store: RateLimitStore, limits: AuthLimits | None = None) -> None:
        self.store = store
        self.counted = Limits(store)
        self.limits = limits or AuthLimits()

    def network(self, client_ip: str) -> str:
        return client_network(client_ip, self.limits.ipv6_prefix_length)

    def _counters(self, address: str, ip: str) -> list[Counter]:
        lim, net = self.limits, self.network(ip)
        return [(lim.address_ip, f"{address}:{net}"), (lim.ip, net), (lim.address, address)]

    def _success_key(self, address: str, ip: str) -> str:
        return f"ok.auth:{address}:{self.network(ip)}"

    async def check(self, address: str, ip: str) -> Verdict:
        """The first limit this attempt is over, if any. One store round trip."""
        counters = self._counters(address, ip)
        keys = [limit.key(k) for limit, k in counters] + [self._success_key(address, ip)]
        values = await self.store.counts(keys)
        exempt = values[-1] > 0
        for index, ((limit, key), count) in enumerate(zip(counters, values, strict=False)):
            if count < limit.failures or (exempt and index > 0):
                continue
            retry_after = await self.store.retry_after(limit.key(key))
            RATE_LIMIT_REFUSALS.labels(limit.name).inc()
            return Verdict(Limited(limit.name, max(1.0, round(retry_after, 1))), exempt)
        return Verdict(None, exempt)

    async def record_failure(self, address: str, ip: str, fingerprint: str) -> bool:
        """Count a failure unless this fingerprint (address, IP, password) already
        failed in the window. True when it was counted."""
        window = self.limits.address_ip.window
        if not await self.store.add_flag(f"fail.auth:{fingerprint}", window):
            return False
        await self.counted.hit(*self._counters(address, ip))
        return True

    async def record_success(self, address: str, ip: str, verdict: Verdict | None) -> None:
        """Remember the network as one that logs in to the address (unless the check
        said it is known already; without a check, set it anyway)."""
        if verdict is None or not verdict.exempt:
            await self.store.set_flag(self._success_key(address, ip), self.limits.success_memory)
