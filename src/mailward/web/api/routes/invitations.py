"""Setup-assistant invitations of an address. The link appears only in the response
that made it (creation or re-send)."""

from __future__ import annotations

from fastapi import APIRouter, status

from mailward.core.invitations.service import NewInvitation as MadeInvitation
from mailward.web.api import schemas as s
from mailward.web.api.context import Api, ApiSecret
from mailward.web.api.operations import NO_CONTENT, ObjectId
from mailward.web.api.paging import Paged
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["invitations"])


def _link(api: Api, made: MadeInvitation) -> s.NewInvitation:
    link = made.link(api.services.settings.effective_public_url)
    return s.NewInvitation(invitation=s.Invitation.model_validate(made.invitation), link=link)


@router.get("/addresses/{address_id}/invitations", responses=problem_responses(403, 404))
async def list_invitations(address_id: ObjectId, api: Api, paged: Paged) -> list[s.Invitation]:
    """Pending setup assistants (not used, cancelled or expired) in the order they were
    made, a page at a time (the next one is in the ``Link`` header)."""
    page = await api.services.invitations.page_pending(api.actor, address_id, paged.page)
    return paged.answer(page, s.Invitation)


@router.post(
    "/addresses/{address_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def create_invitation(
    address_id: ObjectId, body: s.InvitationIn, api: ApiSecret
) -> s.NewInvitation:
    """A setup-assistant link for a user of the address, valid 30 days, single use."""
    made = await api.services.invitations.create(
        api.actor, address_id, body.user_email, body.device_name
    )
    return _link(api, made)


@router.post(
    "/addresses/{address_id}/invitations/{invitation_id}/resend",
    responses=problem_responses(403, 404, 409),
)
async def resend_invitation(
    address_id: ObjectId, invitation_id: ObjectId, api: ApiSecret
) -> s.NewInvitation:
    """A new link valid 30 days from now; the previous link stops working."""
    made = await api.services.invitations.resend(api.actor, address_id, invitation_id)
    return _link(api, made)


@router.delete(
    "/addresses/{address_id}/invitations/{invitation_id}",
    **NO_CONTENT,
    responses=problem_responses(403, 404),
)
async def cancel_invitation(address_id: ObjectId, invitation_id: ObjectId, api: Api) -> None:
    """Cancel the link (idempotent)."""
    await api.services.invitations.cancel(api.actor, address_id, invitation_id)
