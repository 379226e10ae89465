"""Reading the audit log: managers see their organization's events."""

from __future__ import annotations

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.audit.events import AuditEventView, AuditFilter, audit_query
from mailward.core.deps import CoreDeps


class AuditLogService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def list(self, actor: Actor, query: AuditFilter) -> list[AuditEventView]:
        """Events of one organization (managers), or of all (operator only)."""
        async with self.deps.db.unit_of_work() as uow:
            if query.organization_id is not None:
                await require_manager(
                    uow.session, actor, query.organization_id, "read the audit log"
                )
            elif not actor.is_operator:
                raise ValueError("an organization is required to read the audit log")
            rows = await uow.session.scalars(audit_query(query))
            return [AuditEventView.of(e) for e in rows]
