"""An organization's device policy page: login history kept, unused devices noticed then
revoked (or never). Members see it; administrators change it."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from mailward.core.access.permissions import MANAGER_ROLES, Role
from mailward.core.organizations.policy import PolicyChange
from mailward.web.forms import done_or_refused
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer

router = APIRouter()

Text = Annotated[str, Form()]


def _days(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 6 else None


async def _page(
    request: Request, viewer: Viewer, org_id: int, form: dict[str, Any] | None = None,
    error: str | None = None, status: int = 200,
) -> Response:  # fmt: skip
    services = web_state(request).services
    organization = await services.organizations.get(viewer.actor, org_id)
    policy = await services.policies.get(viewer.actor, str(org_id))
    context = {
        "viewer": viewer.session,
        "organization": organization,
        "manager": Role(organization.role) in MANAGER_ROLES,
        "policy": policy,
        "form": form or {},
        "error": error,
        "saved": request.query_params.get("done") == "saved",
    }
    return render(request, "org_policy.html", context, status)


@router.get("/orgs/{org_id}/policy")
async def policy_page(request: Request, viewer: SignedIn, org_id: int) -> Response:
    return await _page(request, viewer, org_id)


@router.post("/orgs/{org_id}/policy")
async def set_policy(
    request: Request,
    viewer: SignedIn,
    org_id: int,
    expiry: Text = "on",
    notice_days: Text = "",
    revoke_days: Text = "",
    history_days: Text = "",
) -> Response:
    form = {"expiry": expiry, "notice_days": notice_days, "revoke_days": revoke_days,
            "history_days": history_days}  # fmt: skip
    on = expiry != "off"
    change = PolicyChange(
        unused_notice_days=_days(notice_days) if on else None,
        unused_revoke_days=_days(revoke_days) if on else None,
        login_history_days=_days(history_days),
        off=not on,
    )
    if on and (change.unused_notice_days is None or change.unused_revoke_days is None):
        return await _page(request, viewer, org_id, form, "Give both numbers of days.", 400)
    action = web_state(request).services.policies.set(viewer.actor, str(org_id), change)
    page = partial(_page, request, viewer, org_id, form)
    return await done_or_refused(action, page, f"/orgs/{org_id}/policy?done=saved")
