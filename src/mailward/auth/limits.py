"""Named login rate limits, checked before any expensive work (DESIGN §3).

Failures are counted per (address, client IP), per client IP, per address and
globally. The same wrong password from the same (address, IP) counts once per
window: a stale client retrying every minute must not lock its owner out. An IP that
has just logged in to an address is exempt from the limits others can fill (the IP,
address and global ones), but never from its own per-(address, IP) limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailward.limitstore import RateLimitStore


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` failures in ``window`` seconds."""

    name: str
    failures: int
    window: float


@dataclass(frozen=True)
class AuthLimits:
    address_ip: Limit = Limit("address_ip.auth", 10, 900)
    ip: Limit = Limit("ip.auth", 50, 900)
    address: Limit = Limit("address.auth", 100, 900)
    everything: Limit = Limit("global.auth", 5000, 60)
    success_memory: float = 24 * 3600


@dataclass(frozen=True)
class Limited:
    limit: str
    retry_after: float


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: over a limit or not, and whether the IP is exempt."""

    limited: Limited | None
    exempt: bool


class RateLimiter:
    def __init__(self, store: RateLimitStore, limits: AuthLimits | None = None) -> None:
        self.store = store
        self.limits = limits or AuthLimits()

    def _counters(self, address: str, ip: str) -> list[tuple[Limit, str]]:
        lim = self.limits
        return [
            (lim.address_ip, f"{lim.address_ip.name}:{address}:{ip}"),
            (lim.ip, f"{lim.ip.name}:{ip}"),
            (lim.address, f"{lim.address.name}:{address}"),
            (lim.everything, lim.everything.name),
        ]

    @staticmethod
    def _success_key(address: str, ip: str) -> str:
        return f"ok.auth:{address}:{ip}"

    async def check(self, address: str, ip: str) -> Verdict:
        """The first limit this attempt is over, if any. One store round trip."""
        counters = self._counters(address, ip)
        keys = [k for _, k in counters] + [self._success_key(address, ip)]
        values = await self.store.counts(keys)
        exempt = values[-1] > 0
        for index, ((limit, key), count) in enumerate(zip(counters, values, strict=False)):
            if count < limit.failures or (exempt and index > 0):
                continue
            retry_after = await self.store.retry_after(key)
            return Verdict(Limited(limit.name, max(1.0, round(retry_after, 1))), exempt)
        return Verdict(None, exempt)

    async def record_failure(self, address: str, ip: str, fingerprint: str) -> bool:
        """Count a failure unless this fingerprint (address, IP, password) already
        failed in the window. True when it was counted."""
        window = self.limits.address_ip.window
        if not await self.store.add_flag(f"fail.auth:{fingerprint}", window):
            return False
        by_window: dict[float, list[str]] = {}
        for limit, key in self._counters(address, ip):
            by_window.setdefault(limit.window, []).append(key)
        for window, keys in by_window.items():
            await self.store.increment(keys, window)
        return True

    async def record_success(self, address: str, ip: str, verdict: Verdict) -> None:
        """Remember the IP as one that logs in to the address (unless already known)."""
        if not verdict.exempt:
            await self.store.set_flag(self._success_key(address, ip), self.limits.success_memory)
