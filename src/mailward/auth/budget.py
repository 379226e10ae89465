"""How much Argon2id work mail logins may ask for at once (DESIGN §3, §7).

Every chosen-password check costs one Argon2id computation (about 22 ms of a core).
The checks waiting or running are bounded per client network, per address and in
total; an attempt over a bound is answered "try later" at once instead of joining an
ever longer queue. Logins of generated passwords never get here, so a flood of wrong
passwords cannot slow them down by queueing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class HashingBusy(Exception):
    """Too much Argon2id work is waiting already; the login gets a temporary failure."""

    def __init__(self, bound: str) -> None:
        super().__init__(bound)
        self.bound = bound


@dataclass(frozen=True)
class HashingBounds:
    total: int = 16
    per_network: int = 4
    per_address: int = 8


@dataclass(eq=False)
class HashingBudget:
    """Counts the Argon2id checks in flight. Used from the event loop only."""

    bounds: HashingBounds = field(default_factory=HashingBounds)
    in_flight: int = field(default=0, init=False)
    refused: int = field(default=0, init=False)
    _networks: dict[str, int] = field(default_factory=dict, init=False)
    _addresses: dict[str, int] = field(default_factory=dict, init=False)

    def _over(self, network: str, address: str) -> str | None:
        if self.in_flight >= self.bounds.total:
            return "total"
        if self._networks.get(network, 0) >= self.bounds.per_network:
            return "network"
        if self._addresses.get(address, 0) >= self.bounds.per_address:
            return "address"
        return None

    @contextmanager
    def slot(self, network: str, address: str) -> Iterator[None]:
        """Hold one slot while the check waits and runs; raise :class:`HashingBusy`
        when a bound is reached."""
        bound = self._over(network, address)
        if bound is not None:
            self.refused += 1
            raise HashingBusy(bound)
        self.in_flight += 1
        self._networks[network] = self._networks.get(network, 0) + 1
        self._addresses[address] = self._addresses.get(address, 0) + 1
        try:
            yield
        finally:
            self.in_flight -= 1
            _release(self._networks, network)
            _release(self._addresses, address)


def _release(counts: dict[str, int], key: str) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]
