"""Dashboard, organizations (members and roles), Mail Services, the audit log."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from mailward.core.access.permissions import MANAGER_ROLES, Role
from mailward.core.audit.events import AuditFilter, AuditTag
from mailward.core.devices.own import own_devices
from mailward.core.pages import PageRequest
from mailward.errors import MailwardError, NotFound
from mailward.web.formatting import is_account_action
from mailward.web.forms import REFUSED, done_or_refused, go
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer

router = APIRouter()

Text = Annotated[str, Form()]
PER_PAGE = 50


@router.get("/dashboard")
async def dashboard(request: Request, viewer: SignedIn) -> Response:
    services = web_state(request).services
    context = {
        "viewer": viewer.session,
        "organizations": await services.organizations.list_for(viewer.actor),
        "counts": await services.mail_services.counts(viewer.actor),
        "offers": await services.grants.pending_for(viewer.actor),
        "own_devices": await own_devices(services.deps, viewer.actor),
    }
    return render(request, "dashboard.html", context)


async def _mail_services_page(
    request: Request,
    viewer: Viewer,
    error: str | None = None,
    status: int = 200,
    paged: tuple[int, str] | None = None,
) -> Response:
    """Each organization's Mail Services, a page each; ``paged``: the organization
    whose list the reader paged through, and the cursor of its page."""
    services = web_state(request).services
    groups = []
    for organization in await services.organizations.list_for(viewer.actor):
        cursor = paged[1] if paged and paged[0] == organization.id else None
        found = await services.mail_services.page(
            viewer.actor, organization.id, PageRequest(cursor, PER_PAGE)
        )
        groups.append((organization, found, Role(organization.role) in MANAGER_ROLES))
    context = {"viewer": viewer.session, "groups": groups, "error": error}
    return render(request, "mail_services.html", context, status)


@router.get("/mail-services")
async def mail_services(
    request: Request, viewer: SignedIn, org: int = 0, cursor: str = ""
) -> Response:
    return await _mail_services_page(request, viewer, paged=(org, cursor) if cursor else None)


@router.post("/orgs/{org_id}/mail-services")
async def create_mail_service(
    request: Request, viewer: SignedIn, org_id: int, domain: Text
) -> Response:
    action = web_state(request).services.mail_services.create(viewer.actor, org_id, domain)
    page = partial(_mail_services_page, request, viewer)
    return await done_or_refused(action, page, lambda new: go(f"/mail-services/{new.id}"))


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


async def _members_answer(
    request: Request,
    viewer: Viewer,
    org_id: int,
    action: Awaitable[object],
    refused: tuple[type[MailwardError], ...] = REFUSED,
) -> Response:
    """A members form's answer: on to the members, or their page with the refusal."""
    page = partial(_members_page, request, viewer, org_id)
    return await done_or_refused(action, page, f"/orgs/{org_id}", refused)


@router.get("/orgs/{org_id}")
async def organization(request: Request, viewer: SignedIn, org_id: int) -> Response:
    return await _members_page(request, viewer, org_id)


@router.post("/orgs/{org_id}/members")
async def add_member(
    request: Request, viewer: SignedIn, org_id: int, email: Text, role: Text
) -> Response:
    action = web_state(request).services.organizations.add_member(viewer.actor, org_id, email, role)
    return await _members_answer(request, viewer, org_id, action, (*REFUSED, NotFound))


@router.post("/orgs/{org_id}/members/role")
async def set_role(
    request: Request, viewer: SignedIn, org_id: int, email: Text, role: Text
) -> Response:
    action = web_state(request).services.organizations.set_role(viewer.actor, org_id, email, role)
    return await _members_answer(request, viewer, org_id, action)


@router.post("/orgs/{org_id}/members/remove")
async def remove_member(request: Request, viewer: SignedIn, org_id: int, email: Text) -> Response:
    action = web_state(request).services.organizations.remove_member(viewer.actor, org_id, email)
    return await _members_answer(request, viewer, org_id, action)


def _int_or_none(value: str) -> int | None:
    """A typed id; anything else, or beyond what an id can be, filters nothing."""
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


@router.get("/orgs/{org_id}/audit")
async def audit_log(
    request: Request,
    viewer: SignedIn,
    org_id: int,
    address: str = "",
    device: str = "",
    actor: str = "",
    action: str = "",
    cursor: str = "",
) -> Response:
    services = web_state(request).services
    organization = await services.organizations.get(viewer.actor, org_id)
    address_id = None
    if address.strip():
        address_id = (await services.addresses.get(viewer.actor, address.strip())).id
    query = AuditFilter(
        organization_id=org_id,
        address_id=address_id,
        device_id=_int_or_none(device),
        actor=actor.strip() or None,
        action=action if action in set(AuditTag) else None,
        limit=PER_PAGE,
        cursor=cursor or None,
    )
    context = {
        "viewer": viewer.session,
        "organization": organization,
        "found": await services.audit.page(viewer.actor, query),
        "filters": {"address": address, "device": device, "actor": actor, "action": action},
        "actions": [str(t) for t in AuditTag if not is_account_action(t)],
    }
    return render(request, "org_audit.html", context)
