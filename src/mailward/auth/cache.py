"""Verified credentials in memory for a few minutes (DESIGN §3).

Keys are keyed hashes of (address, password), never the password. Entries of a device
are dropped the moment a change notice for it arrives; a lookup that started before
a change never stores its (possibly stale) result, thanks to the epoch check. Known
wrong passwords are remembered too (per address), and forgotten when any device of
that address changes: the password might have just become right.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network

from mailward.core.deps import DeviceChangeNotice
from mailward.keys import ServerKeys
from mailward.limitstore import Monotonic

CACHE_PURPOSE = "credential-cache"
Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class DeviceGrant:
    """What a verified password gives: a device and the scope it may be used in."""

    device_id: int
    address_id: int
    organization_id: int
    address: str
    device_name: str
    revoked: bool
    expires_at: datetime | None
    protocols: frozenset[str]
    networks: tuple[Network, ...]


@dataclass(eq=False, repr=False)  # the cache stays out of logs
class CredentialCache:
    keys: ServerKeys
    ttl: float
    max_entries: int = 100_000
    monotonic: Monotonic = time.monotonic
    epoch: int = field(default=0, init=False)
    _grants: OrderedDict[bytes, tuple[DeviceGrant, float]] = field(
        default_factory=OrderedDict, init=False
    )
    _by_device: dict[int, set[bytes]] = field(default_factory=dict, init=False)
    _failures: OrderedDict[bytes, tuple[int | None, float]] = field(
        default_factory=OrderedDict, init=False
    )
    _failures_by_address: dict[int | None, set[bytes]] = field(default_factory=dict, init=False)

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def key(self, address: str, password: str) -> bytes:
        return self.keys.mac(CACHE_PURPOSE, address.encode(), password.encode())

    def get(self, key: bytes) -> DeviceGrant | None:
        entry = self._grants.get(key)
        if entry is None:
            return None
        if entry[1] <= self.monotonic():
            self._forget_grant(key, entry[0].device_id)
            return None
        return entry[0]

    def put(self, key: bytes, grant: DeviceGrant, epoch: int) -> None:
        """Store unless a change arrived since ``epoch`` was read."""
        if not self.enabled or epoch != self.epoch:
            return
        self._grants[key] = (grant, self.monotonic() + self.ttl)
        self._grants.move_to_end(key)
        self._by_device.setdefault(grant.device_id, set()).add(key)
        while len(self._grants) > self.max_entries:
            old_key, (old, _) = self._grants.popitem(last=False)
            self._drop_index(old_key, old.device_id)

    def is_known_failure(self, key: bytes) -> bool:
        entry = self._failures.get(key)
        if entry is None:
            return False
        if entry[1] <= self.monotonic():
            self._forget_failure(key, entry[0])
            return False
        return True

    def remember_failure(self, key: bytes, address_id: int | None, epoch: int) -> None:
        if not self.enabled or epoch != self.epoch:
            return
        self._failures[key] = (address_id, self.monotonic() + self.ttl)
        self._failures.move_to_end(key)
        self._failures_by_address.setdefault(address_id, set()).add(key)
        while len(self._failures) > self.max_entries:
            old_key, (old_address, _) = self._failures.popitem(last=False)
            self._failures_by_address.get(old_address, set()).discard(old_key)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        """Subscriber of the device event hub: forget everything the change may affect.
        Failures remembered for an unknown address go too: it may just have got one."""
        self.epoch += 1
        for key in self._by_device.pop(notice.device_id, set()):
            self._grants.pop(key, None)
        for address_id in (notice.address_id, None):
            for key in self._failures_by_address.pop(address_id, set()):
                self._failures.pop(key, None)

    def clear(self) -> None:
        self.epoch += 1
        self._grants.clear()
        self._by_device.clear()
        self._failures.clear()
        self._failures_by_address.clear()

    def _forget_grant(self, key: bytes, device_id: int) -> None:
        self._grants.pop(key, None)
        self._drop_index(key, device_id)

    def _drop_index(self, key: bytes, device_id: int) -> None:
        keys = self._by_device.get(device_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_device[device_id]

    def _forget_failure(self, key: bytes, address_id: int | None) -> None:
        self._failures.pop(key, None)
        self._failures_by_address.get(address_id, set()).discard(key)
