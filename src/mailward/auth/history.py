"""Each device's login history, coalesced in memory and written in batches like the
last-used data (:mod:`mailward.auth.lastused`): a login adds to a dict, never waits for
the database. Identical logins (device, IP, protocol, result) between two flushes are
one row with a count. A flush also records the networks each device logged in from;
a network a device had not used before becomes a pending notice
(:mod:`mailward.core.devices.newnetworks` sends them, off the login path).

What is recorded: successful logins (``ok``) and a device's right password refused
because of its scope (revoked, expired, protocol or network not allowed: ``wrong``,
as the client was told). A wrong password names no device (only an address), and a
rate-limited attempt stops before any password is checked, so neither is attributed
to a device: they count in the rate limiter only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailward.auth.readers import DATABASE_ERRORS
from mailward.core.devices.networks import network_of
from mailward.db.engine import Database
from mailward.db.models import DeviceLogin, DeviceNetwork

log = logging.getLogger(__name__)

OK = "ok"
WRONG = "wrong"
MAX_PENDING = 50_000

Key = tuple[int, str, str, str]  # device id, IP, protocol, result


@dataclass
class PendingLogins:
    at: datetime
    count: int
    client: str | None


async def insert_new(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping those a unique constraint already holds (another node)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


class LoginHistory:
    def __init__(self, db: Database, max_pending: int = MAX_PENDING) -> None:
        self.db = db
        self.max_pending = max_pending
        self._pending: dict[Key, PendingLogins] = {}
        self._latest: dict[int, Key] = {}
        self.dropped = 0

    def note(
        self, device_id: int, at: datetime, ip: str, protocol: str, client: str | None, result: str
    ) -> None:
        key = (device_id, ip, protocol, result)
        entry = self._pending.get(key)
        if entry is None:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1  # bounded memory under a flood of distinct clients
                return
            self._pending[key] = PendingLogins(at, 1, client)
        else:
            entry.at, entry.count = at, entry.count + 1
            entry.client = client or entry.client
        self._latest[device_id] = key

    def note_client_name(self, device_id: int, client: str) -> None:
        """The IMAP ID arrives after the login: name the device's latest pending login."""
        key = self._latest.get(device_id)
        entry = self._pending.get(key) if key is not None else None
        if entry is not None:
            entry.client = client

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write the pending logins and new networks in one transaction; on a database
        error keep them for the next try. Returns the number of rows of history."""
        batch, self._pending, self._latest = self._pending, {}, {}
        if not batch:
            return 0
        try:
            async with self.db.engine.begin() as conn:
                await conn.execute(insert(DeviceLogin), login_rows(batch))
                await self._record_networks(conn, batch)
        except IntegrityError:
            # A device deleted meanwhile (its address removed): retrying would fail forever.
            log.warning("login history batch of %d dropped: a device is gone", len(batch))
            return 0
        except DATABASE_ERRORS as exc:
            log.warning("login history flush failed (%s); retrying later", type(exc).__name__)
            for key, entry in batch.items():
                self._pending.setdefault(key, entry)
            return 0
        return len(batch)

    async def _record_networks(
        self, conn: AsyncConnection, batch: dict[Key, PendingLogins]
    ) -> None:
        seen = networks_seen(batch)
        if not seen:
            return
        devices = {device_id for device_id, _ in seen}
        rows = await conn.execute(
            select(DeviceNetwork.device_id, DeviceNetwork.network).where(
                DeviceNetwork.device_id.in_(devices)
            )
        )
        known = {(device_id, network) for device_id, network in rows}
        with_networks = {device_id for device_id, _ in known}
        new_rows = []
        for (device_id, network), (at, ip, protocol, client) in sorted(
            seen.items(), key=lambda item: item[1][0]
        ):
            if (device_id, network) in known:
                continue
            notice = "pending" if device_id in with_networks else "first"
            with_networks.add(device_id)
            new_rows.append(
                {"device_id": device_id, "network": network, "first_seen_at": at, "ip": ip,
                 "protocol": protocol, "client": client, "notice": notice}
            )  # fmt: skip
        if new_rows:
            await insert_new(conn, DeviceNetwork.__table__, new_rows)  # type: ignore[arg-type]


def login_rows(batch: dict[Key, PendingLogins]) -> list[dict[str, Any]]:
    return [
        {"device_id": d, "at": e.at, "ip": ip, "protocol": p, "client": e.client,
         "result": r, "count": e.count}
        for (d, ip, p, r), e in batch.items()
    ]  # fmt: skip


def networks_seen(
    batch: dict[Key, PendingLogins],
) -> dict[tuple[int, str], tuple[datetime, str, str, str | None]]:
    """The networks of the successful logins, each with its first use in the batch.
    A failed login never makes a network known (nor a notice)."""
    seen: dict[tuple[int, str], tuple[datetime, str, str, str | None]] = {}
    for (device_id, ip, protocol, result), entry in batch.items():
        network = network_of(ip) if result == OK else None
        if network is None:
            continue
        current = seen.get((device_id, network))
        if current is None or entry.at < current[0]:
            seen[(device_id, network)] = (entry.at, ip, protocol, entry.client)
    return seen
