"""The audit log of the token's organization, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mailward.core.audit.events import AuditFilter
from mailward.web.api import schemas as s
from mailward.web.api.context import Api
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["audit"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
FilterId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
FilterText = Annotated[str | None, Query(max_length=320, pattern=s.PRINTABLE)]


@router.get("/organizations/{org_id}/audit-events", responses=problem_responses(403, 404))
async def list_audit_events(
    org_id: ObjectId,
    api: Api,
    address_id: FilterId = None,
    device_id: FilterId = None,
    actor: FilterText = None,
    action: FilterText = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> s.AuditPage:
    """Newest first. Managers only. ``actor`` is an account's email (or ``operator``);
    ``action`` a tag such as ``device:add``."""
    query = AuditFilter(org_id, address_id, device_id, actor, action, limit, offset)
    events = await api.services.audit.list(api.actor, query)
    items = [s.AuditEvent.model_validate(e) for e in events]
    return s.AuditPage(items=items, limit=limit, offset=offset)
