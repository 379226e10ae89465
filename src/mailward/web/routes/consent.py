"""The signed-in person's side of consent: the roles and addresses offered to them,
with Accept and Decline. Nothing takes effect before they accept."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mailward.core.access.grants import GrantService, GrantView
from mailward.errors import NotFound
from mailward.web.forms import go
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer

router = APIRouter()


def grants(request: Request) -> GrantService:
    return web_state(request).services.grants


async def _pending_page(
    request: Request, viewer: Viewer, notice: str | None = None, status: int = 200
) -> Response:
    offers = await grants(request).pending_for(viewer.actor)
    context = {"viewer": viewer.session, "offers": offers, "notice": notice}
    return render(request, "pending.html", context, status)


@router.get("/pending")
async def pending(request: Request, viewer: SignedIn) -> Response:
    return await _pending_page(request, viewer)


def _what(offer: GrantView) -> str:
    if offer.address:
        return f"the use of {offer.address} ({offer.organization})"
    return f"your role in {offer.organization}"


async def _answer(request: Request, viewer: Viewer, grant_id: int, accept: bool) -> Response:
    service = grants(request)
    try:
        answer = service.accept if accept else service.decline
        offer = await answer(viewer.actor, grant_id)
    except NotFound:
        return await _pending_page(request, viewer, "This invitation is no longer open.", 404)
    if accept and not await service.pending_for(viewer.actor):
        return go("/dashboard")
    done = "Accepted" if accept else "Declined"
    return await _pending_page(request, viewer, f"{done}: {_what(offer)}.")


@router.post("/pending/{grant_id}/accept")
async def accept(request: Request, viewer: SignedIn, grant_id: int) -> Response:
    return await _answer(request, viewer, grant_id, accept=True)


@router.post("/pending/{grant_id}/decline")
async def decline(request: Request, viewer: SignedIn, grant_id: int) -> Response:
    return await _answer(request, viewer, grant_id, accept=False)
