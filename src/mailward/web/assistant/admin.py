"""The administrator's side: send a setup assistant, see, cancel and re-send it, and
the DNS records page of a Mail Service."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from mailward.core.invitations.service import InvitationView, NewInvitation, invitation_link
from mailward.core.notifications import invitation_message
from mailward.errors import NotFound
from mailward.web.assistant.state import assistant_state
from mailward.web.forms import done_or_refused, go, template_page
from mailward.web.paths import devices_path
from mailward.web.routes.addresses import address_context
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer, reauthenticated

router = APIRouter()

Text = Annotated[str, Form()]
# The pages that show a setup-assistant link: the password is asked again first.
Sending = Annotated[Viewer, reauthenticated("/addresses/{address_id}/devices/new")]
Showing = Annotated[Viewer, reauthenticated("/addresses/{address_id}/devices")]


async def pending_invitations(
    request: Request, viewer: Viewer, address_id: int
) -> list[InvitationView]:
    """For the Devices tab: the pending setup assistants, or none for a non-manager."""
    context_manager = await _is_manager(request, viewer, address_id)
    if not context_manager:
        return []
    return await assistant_state(request).invitations.list_pending(viewer.actor, address_id)


async def _is_manager(request: Request, viewer: Viewer, address_id: int) -> bool:
    context = await address_context(request, viewer, address_id)
    return bool(context["manager"])


async def _manager_context(request: Request, viewer: Viewer, address_id: int) -> dict[str, Any]:
    context = await address_context(request, viewer, address_id)
    await web_state(request).rights.require_manager(
        viewer.actor, context["organization"].id, "send setup assistants"
    )
    context["tab"] = "devices"
    return context


def _link_page(
    request: Request, context: dict[str, Any], new: NewInvitation, sent: str | None = None
) -> Response:
    public_url = web_state(request).services.settings.effective_public_url
    context.update(invitation=new.invitation, link=new.link(public_url), token=new.token)
    context.setdefault("sent", sent)
    response = render(request, "assistant/link.html", context)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.post("/addresses/{address_id}/invitations/new")
async def send_assistant(
    request: Request, viewer: Sending, address_id: int, user: Text = "", name: Text = ""
) -> Response:
    context = await _manager_context(request, viewer, address_id)
    if not user:
        context["error"] = (
            "Choose the user who will receive the setup assistant: “Without user” devices "
            "get a password you generate here."
        )
        return render(request, "assistant/error_back.html", context, 400)
    action = assistant_state(request).invitations.create(viewer.actor, address_id, user, name)
    page = template_page(request, "assistant/error_back.html", context)
    return await done_or_refused(action, page, partial(_link_page, request, context))


@router.post("/addresses/{address_id}/invitations/send")
async def send_by_email(
    request: Request, viewer: Showing, address_id: int, token: Text = ""
) -> Response:
    """Email the link shown on the page (the token came from that page's form)."""
    context = await _manager_context(request, viewer, address_id)
    state = assistant_state(request)
    invitation = await state.invitations.open(token)
    pending = await state.invitations.list_pending(viewer.actor, address_id)
    if invitation.id not in {i.id for i in pending}:
        raise NotFound("invitation", "")
    settings = state.services.settings
    link = invitation_link(settings.effective_public_url, token)
    message = invitation_message(
        settings.sender_address, invitation, link, state.services.clock.now()
    )
    result = await state.mailer.send(message)
    context["sent_ok"] = result.ok
    sent = result.summary("The invitation")
    if not result.ok:
        sent += " Copy the link and send it yourself."
    return _link_page(request, context, NewInvitation(invitation, token), sent)


@router.post("/addresses/{address_id}/invitations/{invitation_id}/cancel")
async def cancel(
    request: Request, viewer: SignedIn, address_id: int, invitation_id: int
) -> Response:
    await assistant_state(request).invitations.cancel(viewer.actor, address_id, invitation_id)
    return go(devices_path(address_id))


@router.post("/addresses/{address_id}/invitations/{invitation_id}/resend")
async def resend(
    request: Request, viewer: Showing, address_id: int, invitation_id: int
) -> Response:
    context = await _manager_context(request, viewer, address_id)
    action = assistant_state(request).invitations.resend(viewer.actor, address_id, invitation_id)
    page = template_page(request, "assistant/error_back.html", context)
    return await done_or_refused(action, page, partial(_link_page, request, context))


@router.get("/mail-services/{ms_id}/dns")
async def dns_page(request: Request, viewer: SignedIn, ms_id: int) -> Response:
    services = web_state(request).services
    mail_service, records = await services.dns_records.records(viewer.actor, ms_id)
    organization = await services.organizations.get(viewer.actor, mail_service.organization_id)
    context = {
        "viewer": viewer.session,
        "mail_service": mail_service,
        "organization": organization,
        "records": records,
        "hostname": services.settings.hostname,
        "warnings": services.dns_records.warnings(),
    }
    return render(request, "assistant/dns.html", context)
