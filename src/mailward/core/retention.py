"""Retention of the tables that only grow: the audit log, the device-change feed, web
sessions and invitations. ``serve`` prunes them in the background (see
:class:`mailward.retention_pruning.RetentionPruning`), in batches on the time indexes,
so a pass never holds a long lock and never scans a table.

Login history has its own retention per organization (core/devices/history.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select

from mailward.core.deps import CoreDeps
from mailward.db.models import AuditEvent, DeviceChange, Invitation, WebSession

BATCH = 5000
MAX_BATCHES = 200  # per table and pass: a backlog is worked off over several passes


@dataclass(frozen=True)
class Retention:
    """How long each table keeps its rows (days)."""

    audit_days: int = 400
    device_change_days: int = 2
    invitation_days: int = 30
    revoked_web_session_days: int = 1


@dataclass(frozen=True)
class Pruned:
    audit_events: int
    device_changes: int
    web_sessions: int
    invitations: int


class RetentionService:
    def __init__(self, deps: CoreDeps, retention: Retention) -> None:
        self.deps = deps
        self.retention = retention

    async def prune(self) -> Pruned:
        now = self.deps.clock.now()
        r = self.retention
        return Pruned(
            audit_events=await self._prune(AuditEvent, AuditEvent.at < _ago(now, r.audit_days)),
            device_changes=await self._prune_device_changes(_ago(now, r.device_change_days)),
            web_sessions=await self._prune(
                WebSession,
                or_(
                    WebSession.expires_at < now,
                    WebSession.revoked_at < _ago(now, r.revoked_web_session_days),
                ),
            ),
            invitations=await self._prune(
                Invitation, Invitation.expires_at < _ago(now, r.invitation_days)
            ),
        )

    async def _prune_device_changes(self, cutoff: datetime) -> int:
        """The newest change stays: readers resume after the highest id, and an empty
        table would let SQLite hand out ids again from 1."""
        async with self.deps.db.unit_of_work() as uow:
            newest = await uow.session.scalar(select(func.max(DeviceChange.id)))
        if newest is None:
            return 0
        return await self._prune(
            DeviceChange, (DeviceChange.at < cutoff) & (DeviceChange.id < newest)
        )

    async def _prune(self, table: Any, condition: ColumnElement[bool]) -> int:
        """Delete in batches of ids found through the condition's index."""
        deleted = 0
        for _ in range(MAX_BATCHES):
            async with self.deps.db.unit_of_work() as uow:
                batch = select(table.id).where(condition).limit(BATCH).scalar_subquery()
                stale = delete(table).where(table.id.in_(batch))
                result = await uow.session.execute(
                    stale.execution_options(synchronize_session=False)
                )
                count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < BATCH:
                break
        return deleted


def _ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
