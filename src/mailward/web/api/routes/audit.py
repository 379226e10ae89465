"""The audit log of the token's organization, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from mailward.core.audit.events import AuditFilter
from mailward.web.api import schemas as s
from mailward.web.api.context import Api
from mailward.web.api.paging import Cursor, Limit
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
    limit: Limit = 100,
    cursor: Cursor = None,
) -> s.AuditPage:
    """Newest first, one page at a time (keyset: any page costs the same). Managers
    only. ``actor`` is an account's email (or ``operator``); ``action`` a tag such as
    ``device:add``; ``cursor`` a ``next_cursor`` or ``previous_cursor`` of a page."""
    query = AuditFilter(org_id, address_id, device_id, actor, action, limit, cursor)
    page = await api.services.audit.page(api.actor, query)
    return s.AuditPage.model_validate(page)
