"""Personal API tokens in the manager: list, create (shown once), revoke."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from mailward.errors import MailwardError
from mailward.web.formatting import sentence
from mailward.web.forms import go
from mailward.web.routes.devices import parse_expiry
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer, reauthenticated

router = APIRouter()
PAGE = "/account/api-tokens"
Text = Annotated[str, Form()]


async def _page_context(request: Request, viewer: Viewer) -> dict[str, Any]:
    services = web_state(request).services
    organizations = await services.organizations.list_for(viewer.actor)
    names = {o.id: o.name for o in organizations}
    tokens = await services.api_tokens.list(viewer.actor)
    return {
        "viewer": viewer.session,
        "organizations": organizations,
        "names": names,
        "tokens": tokens,
        "form": {"name": "", "organization": "", "expires": ""},
    }


@router.get(PAGE)
async def api_tokens(request: Request, viewer: SignedIn) -> Response:
    context = await _page_context(request, viewer)
    context["notice"] = "The token was revoked." if request.query_params.get("done") else None
    return render(request, "api_tokens.html", context)


@router.post(PAGE)
async def create_api_token(
    request: Request,
    viewer: Annotated[Viewer, reauthenticated(PAGE)],
    name: Text = "",
    organization: Text = "",
    expires: Text = "",
) -> Response:
    context = await _page_context(request, viewer)
    context["form"] = {"name": name, "organization": organization, "expires": expires}
    try:
        if not organization.isdigit():
            raise MailwardError("choose the organization the token may act in")
        issued = await web_state(request).services.api_tokens.create(
            viewer.actor, int(organization), name, parse_expiry(expires)
        )
    except MailwardError as exc:
        context["error"] = sentence(exc)
        return render(request, "api_tokens.html", context, 400)
    context.update(issued=issued.token, secret=issued.secret)
    return render(request, "api_token_created.html", context)


@router.post(PAGE + "/{token_id}/revoke")
async def revoke_api_token(request: Request, viewer: SignedIn, token_id: int) -> Response:
    await web_state(request).services.api_tokens.revoke(viewer.actor, token_id)
    return go(PAGE + "?done=revoked")
