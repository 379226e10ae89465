"""Reading the audit log: managers see their organization's events."""

from __future__ import annotations

from typing import Any

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.audit.events import AuditEventView, AuditFilter, audit_query
from mailward.core.deps import CoreDeps
from mailward.core.pages import Page, PageRequest, keyset_page
from mailward.db.models import AuditEvent


def _key(row: Any) -> tuple[int]:
    return (row[0].id,)


class AuditLogService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def page(self, actor: Actor, query: AuditFilter) -> Page[AuditEventView]:
        """Events of one organization (managers), or of all (operator only), newest
        first, one page at a time (``query.cursor`` from the previous page)."""
        async with self.deps.db.unit_of_work() as uow:
            if query.organization_id is not None:
                await require_manager(
                    uow.session, actor, query.organization_id, "read the audit log"
                )
            elif not actor.is_operator:
                raise ValueError("an organization is required to read the audit log")
            request = PageRequest(query.cursor, query.limit)
            rows = await keyset_page(
                uow.session, audit_query(query), [AuditEvent.id], _key, request, descending=True
            )
            return rows.map(lambda row: AuditEventView.of(row[0]))

    async def list(self, actor: Actor, query: AuditFilter) -> list[AuditEventView]:
        """The first page's events (or the page ``query.cursor`` points to)."""
        return (await self.page(actor, query)).items
