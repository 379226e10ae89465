"""A Mail Service's addresses (search, pages), its domain check, and an address's Users
tab."""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from mailward.core.access.permissions import MANAGER_ROLES, Role
from mailward.errors import Conflict
from mailward.web.forms import done_or_refused, go
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer

router = APIRouter()

Text = Annotated[str, Form()]
PER_PAGE = 25


async def address_context(request: Request, viewer: Viewer, address_id: int) -> dict[str, Any]:
    """What every tab of an address shows: the address, its Mail Service, its
    organization and whether the viewer manages it. Another organization's address
    raises ``NotFound``."""
    services = web_state(request).services
    address = await services.addresses.get(viewer.actor, address_id)
    mail_service = await services.mail_services.get(viewer.actor, address.mail_service_id)
    organization = await services.organizations.get(viewer.actor, address.organization_id)
    return {
        "viewer": viewer.session,
        "address": address,
        "mail_service": mail_service,
        "organization": organization,
        "manager": Role(organization.role) in MANAGER_ROLES,
    }


async def _mail_service_page(
    request: Request,
    viewer: Viewer,
    ms_id: int,
    error: str | None = None,
    status: int = 200,
    q: str = "",
    cursor: str = "",
) -> Response:
    services = web_state(request).services
    mail_service = await services.mail_services.get(viewer.actor, ms_id)
    organization = await services.organizations.get(viewer.actor, mail_service.organization_id)
    found = await services.addresses.page(viewer.actor, ms_id, q, cursor or None, PER_PAGE)
    context = {
        "viewer": viewer.session,
        "mail_service": mail_service,
        "organization": organization,
        "manager": Role(organization.role) in MANAGER_ROLES,
        "found": found,
        "q": q,
        "error": error,
    }
    return render(request, "mail_service.html", context, status)


@router.get("/mail-services/{ms_id}")
async def mail_service(
    request: Request, viewer: SignedIn, ms_id: int, q: str = "", cursor: str = ""
) -> Response:
    return await _mail_service_page(request, viewer, ms_id, q=q, cursor=cursor)


@router.post("/mail-services/{ms_id}/addresses")
async def create_address(
    request: Request, viewer: SignedIn, ms_id: int, local_part: Text, display_name: Text = ""
) -> Response:
    action = web_state(request).services.addresses.create(
        viewer.actor, ms_id, local_part, display_name
    )
    page = partial(_mail_service_page, request, viewer, ms_id)
    return await done_or_refused(action, page, lambda new: go(f"/addresses/{new.id}/devices"))


@router.post("/mail-services/{ms_id}/verify")
async def verify_domain(request: Request, viewer: SignedIn, ms_id: int) -> Response:
    """ "Check now": look the pending domain's TXT record up once."""
    action = web_state(request).services.domain_checks.check(viewer.actor, ms_id)
    page = partial(_mail_service_page, request, viewer, ms_id)
    return await done_or_refused(action, page, f"/mail-services/{ms_id}", (Conflict,), 409)


@router.get("/addresses/{address_id}")
async def address(request: Request, viewer: SignedIn, address_id: int) -> Response:
    await address_context(request, viewer, address_id)
    return go(f"/addresses/{address_id}/devices")


async def _users_page(
    request: Request, viewer: Viewer, address_id: int, error: str | None = None, status: int = 200
) -> Response:
    context = await address_context(request, viewer, address_id)
    users = await web_state(request).services.addresses.users(viewer.actor, address_id)
    context.update(tab="users", users=users, error=error)
    return render(request, "address_users.html", context, status)


async def _users_answer(
    request: Request, viewer: Viewer, address_id: int, action: Awaitable[object]
) -> Response:
    """A users form's answer: on to the Users tab, or the tab with the refusal."""
    page = partial(_users_page, request, viewer, address_id)
    return await done_or_refused(action, page, f"/addresses/{address_id}/users")


@router.get("/addresses/{address_id}/users")
async def users(request: Request, viewer: SignedIn, address_id: int) -> Response:
    return await _users_page(request, viewer, address_id)


@router.post("/addresses/{address_id}/users")
async def add_user(request: Request, viewer: SignedIn, address_id: int, email: Text) -> Response:
    action = web_state(request).services.addresses.add_user(viewer.actor, address_id, email)
    return await _users_answer(request, viewer, address_id, action)


@router.post("/addresses/{address_id}/users/remove")
async def remove_user(request: Request, viewer: SignedIn, address_id: int, email: Text) -> Response:
    action = web_state(request).services.addresses.remove_user(viewer.actor, address_id, email)
    return await _users_answer(request, viewer, address_id, action)
