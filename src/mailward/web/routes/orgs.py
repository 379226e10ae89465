"""Dashboard, organizations (members and roles), Mail Services, the audit log."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from mailward.core.access.permissions import MANAGER_ROLES, Role
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.errors import NotFound
from mailward.web.formatting import is_account_action, sentence
from mailward.web.forms import REFUSED, done_or_refused
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer

router = APIRouter()

Text = Annotated[str, Form()]


def _go(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@router.get("/dashboard")
async def dashboard(request: Request, viewer: SignedIn) -> Response:
    services = web_state(request).services
    organizations = await services.organizations.list_for(viewer.actor)
    counts = {
        o.id: len(await services.mail_services.list(viewer.actor, o.id)) for o in organizations
    }
    offers = await services.grants.pending_for(viewer.actor)
    context = {
        "viewer": viewer.session,
        "organizations": organizations,
        "counts": counts,
        "offers": offers,
    }
    return render(request, "dashboard.html", context)


async def _mail_services_page(
    request: Request, viewer: Viewer, error: str | None = None, status_code: int = 200
) -> Response:
    services = web_state(request).services
    groups = []
    for organization in await services.organizations.list_for(viewer.actor):
        items = await services.mail_services.list(viewer.actor, organization.id)
        groups.append((organization, items, Role(organization.role) in MANAGER_ROLES))
    context = {"viewer": viewer.session, "groups": groups, "error": error}
    return render(request, "mail_services.html", context, status_code)


@router.get("/mail-services")
async def mail_services(request: Request, viewer: SignedIn) -> Response:
    return await _mail_services_page(request, viewer)


@router.post("/orgs/{org_id}/mail-services")
async def create_mail_service(
    request: Request, viewer: SignedIn, org_id: int, domain: Text
) -> Response:
    try:
        created = await web_state(request).services.mail_services.create(
            viewer.actor, org_id, domain
        )
    except REFUSED as exc:
        return await _mail_services_page(request, viewer, sentence(exc), 400)
    return _go(f"/mail-services/{created.id}")


async def _members_page(
    request: Request, viewer: Viewer, org_id: int, error: str | None = None, status: int = 200
) -> Response:
    services = web_state(request).services
    organization = await services.organizations.get(viewer.actor, org_id)
    context = {
        "viewer": viewer.session,
        "organization": organization,
        "members": await services.organizations.members(viewer.actor, org_id),
        "manager": Role(organization.role) in MANAGER_ROLES,
        "roles": list(Role),
        "error": error,
    }
    return render(request, "org_members.html", context, status)


@router.get("/orgs/{org_id}")
async def organization(request: Request, viewer: SignedIn, org_id: int) -> Response:
    return await _members_page(request, viewer, org_id)


@router.post("/orgs/{org_id}/members")
async def add_member(
    request: Request, viewer: SignedIn, org_id: int, email: Text, role: Text
) -> Response:
    organizations = web_state(request).services.organizations
    try:
        await organizations.add_member(viewer.actor, org_id, email, role)
    except (*REFUSED, NotFound) as exc:
        return await _members_page(request, viewer, org_id, sentence(exc), 400)
    return _go(f"/orgs/{org_id}")


@router.post("/orgs/{org_id}/members/role")
async def set_role(
    request: Request, viewer: SignedIn, org_id: int, email: Text, role: Text
) -> Response:
    action = web_state(request).services.organizations.set_role(viewer.actor, org_id, email, role)
    page = partial(_members_page, request, viewer, org_id)
    return await done_or_refused(action, page, f"/orgs/{org_id}")


@router.post("/orgs/{org_id}/members/remove")
async def remove_member(request: Request, viewer: SignedIn, org_id: int, email: Text) -> Response:
    action = web_state(request).services.organizations.remove_member(viewer.actor, org_id, email)
    page = partial(_members_page, request, viewer, org_id)
    return await done_or_refused(action, page, f"/orgs/{org_id}")


def _int_or_none(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


@router.get("/orgs/{org_id}/audit")
async def audit_log(
    request: Request,
    viewer: SignedIn,
    org_id: int,
    address: str = "",
    device: str = "",
    actor: str = "",
    action: str = "",
    page: int = 1,
) -> Response:
    services = web_state(request).services
    organization = await services.organizations.get(viewer.actor, org_id)
    address_id = None
    if address.strip():
        address_id = (await services.addresses.get(viewer.actor, address.strip())).id
    per_page = 50
    query = AuditFilter(
        organization_id=org_id,
        address_id=address_id,
        device_id=_int_or_none(device),
        actor=actor.strip() or None,
        action=action if action in set(AuditTag) else None,
        limit=per_page + 1,
        offset=(max(page, 1) - 1) * per_page,
    )
    events = await services.audit.list(viewer.actor, query)
    context = {
        "viewer": viewer.session,
        "organization": organization,
        "events": events[:per_page],
        "has_more": len(events) > per_page,
        "page": max(page, 1),
        "filters": {"address": address, "device": device, "actor": actor, "action": action},
        "actions": [str(t) for t in AuditTag if not is_account_action(t)],
    }
    return render(request, "org_audit.html", context)
