"""A right password used outside its device's scope: revoked, expired, a protocol the
device may not use, a network outside its list. The client sees a wrong password;
the audit log (and so the device page) says why."""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from mailward.auth.cache import DeviceGrant
from mailward.auth.directory import DATABASE_ERRORS
from mailward.clock import Clock
from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.db.engine import Database
from mailward.limitstore import Monotonic

log = logging.getLogger(__name__)


class Refusal(StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"
    PROTOCOL = "protocol_not_allowed"
    NETWORK = "network_not_allowed"


def in_networks(grant: DeviceGrant, client_ip: str) -> bool:
    try:
        ip = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in grant.networks)


def refusal_of(grant: DeviceGrant, protocol: str, client_ip: str, now: datetime) -> Refusal | None:
    if grant.revoked:
        return Refusal.REVOKED
    if grant.expires_at is not None and grant.expires_at <= now:
        return Refusal.EXPIRED
    if protocol not in grant.protocols:
        return Refusal.PROTOCOL
    if grant.networks and not in_networks(grant, client_ip):
        return Refusal.NETWORK
    return None


@dataclass(eq=False)
class RefusalLog:
    """Writes ``device:login_refused`` events, once per (device, reason, IP) every
    ``quiet_seconds``: a phone polling with an expired device must not fill the log."""

    db: Database
    clock: Clock
    quiet_seconds: float = 600.0
    monotonic: Monotonic = time.monotonic
    _recent: dict[tuple[int, str, str], float] = field(default_factory=dict, init=False)

    async def refused(
        self, grant: DeviceGrant, refusal: Refusal, protocol: str, client_ip: str
    ) -> None:
        """Record the refusal; a database error is logged, never raised."""
        if not self._first_recently((grant.device_id, str(refusal), client_ip)):
            return
        actor = Actor(account_id=None, label=f"{protocol} client", ip=client_ip[:64])
        target = AuditTarget(
            grant.organization_id,
            grant.address_id,
            grant.device_id,
            f"{grant.device_name} ({grant.address})",
        )
        try:
            async with self.db.unit_of_work() as uow:
                record(
                    uow.session,
                    actor,
                    AuditTag.DEVICE_LOGIN_REFUSED,
                    target,
                    self.clock.now(),
                    reason=str(refusal),
                    protocol=protocol,
                )
        except DATABASE_ERRORS as exc:
            log.warning("could not record a refused device login: %s", exc.__class__.__name__)

    def _first_recently(self, key: tuple[int, str, str]) -> bool:
        now = self.monotonic()
        if self._recent.get(key, -1.0) > now:
            return False
        if len(self._recent) > 10_000:
            self._recent = {k: t for k, t in self._recent.items() if t > now}
        self._recent[key] = now + self.quiet_seconds
        return True
