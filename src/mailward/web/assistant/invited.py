"""The invited person's side: open the link, sign in (or create the account by proving
the email, see ``web/routes/email_code.py``: the link alone never sets a password),
choose the device, obtain its password once, and read the settings for that client."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response

from mailward.core.clientsettings import (
    APPLE_KINDS,
    DEVICE_KINDS,
    PHONE_KINDS,
    client_settings,
    mobileconfig,
)
from mailward.core.invitations.service import InvitationUnusable, InvitationView
from mailward.core.passwords import MIN_LENGTH, suggest_password
from mailward.web.assistant import phone
from mailward.web.assistant.discovery import MOBILECONFIG
from mailward.web.assistant.state import assistant_state
from mailward.web.formatting import sentence
from mailward.web.forms import REFUSED
from mailward.web.state import web_state
from mailward.web.viewer import SignedIn, live_session

router = APIRouter()

Text = Annotated[str, Form()]
REGENERATE = "regenerate"


_page = phone.page


def _unusable(request: Request, error: InvitationUnusable, viewer: object = None) -> Response:
    return _page(request, "unusable.html", {"error": error, "viewer": viewer}, 410)


async def _open(request: Request, token: str) -> InvitationView | InvitationUnusable:
    try:
        return await assistant_state(request).invitations.open(token)
    except InvitationUnusable as exc:
        return exc


@router.get("/invite/{token}")
async def open_link(request: Request, token: str) -> Response:
    session = await live_session(request)
    viewer = session if session and session.second_factor_done else None
    invitation = await _open(request, token)
    if isinstance(invitation, InvitationUnusable):
        return _unusable(request, invitation, viewer)
    context: dict[str, Any] = {"viewer": viewer, "invitation": invitation, "token": token}
    if viewer is not None and viewer.email != invitation.email:
        return _page(request, "someone_else.html", context, 403)
    if viewer is not None:
        context["kinds"] = DEVICE_KINDS
        return _page(request, "choose_kind.html", context)
    context["login_url"] = f"/login?next={quote(f'/invite/{token}')}"
    return _page(request, "welcome.html", context)


def _kind(value: str) -> str:
    return value if value in DEVICE_KINDS else "other"


async def _password_context(
    request: Request, viewer: SignedIn, token: str, kind: str
) -> dict[str, Any] | Response:
    invitation = await _open(request, token)
    if isinstance(invitation, InvitationUnusable):
        return _unusable(request, invitation, viewer.session)
    context: dict[str, Any] = {"viewer": viewer.session, "invitation": invitation, "token": token}
    if viewer.session.email != invitation.email:
        return _page(request, "someone_else.html", context, 403)
    context.update(kind=_kind(kind), kind_name=DEVICE_KINDS[_kind(kind)], min_length=MIN_LENGTH)
    return context


def _suggest(request: Request, context: dict[str, Any]) -> None:
    suggestion = suggest_password(web_state(request).services.keys)
    context.update(password=suggestion.password, proof=suggestion.proof)


@router.get("/invite/{token}/password")
async def password_form(
    request: Request, viewer: SignedIn, token: str, kind: str = "other"
) -> Response:
    context = await _password_context(request, viewer, token, kind)
    if isinstance(context, Response):
        return context
    _suggest(request, context)
    return _page(request, "password.html", context)


@router.post("/invite/{token}/password")
async def obtain_password(
    request: Request,
    viewer: SignedIn,
    token: str,
    kind: Text = "other",
    password: Text = "",
    proof: Text = "",
    action: Text = "",
) -> Response:
    context = await _password_context(request, viewer, token, kind)
    if isinstance(context, Response):
        return context
    context.update(password=password, proof=proof)
    if action == REGENERATE:
        _suggest(request, context)
        return _page(request, "password.html", context)
    state = assistant_state(request)
    try:
        created = await state.invitations.redeem(viewer.actor, token, password, proof)
    except InvitationUnusable as exc:
        return _unusable(request, exc, viewer.session)
    except REFUSED as exc:
        context["error"] = sentence(exc)
        return _page(request, "password.html", context, 400)
    return _settings_page(request, context, created.device.address, created.password)


def _settings_page(request: Request, context: dict[str, Any], email: str, secret: str) -> Response:
    """The one page that shows the new password, with the settings for the client."""
    state = assistant_state(request)
    settings = state.services.settings
    kind = context["kind"]
    context.update(secret=secret, settings=client_settings(settings, email))
    context["download_minutes"] = int(state.downloads.lifetime.total_seconds() // 60)
    if kind in APPLE_KINDS:
        profile = mobileconfig(settings, email, context["viewer"].display_name, secret)
        context["download_url"] = phone.offer(state, "mail.mobileconfig", MOBILECONFIG, profile)
    if kind in PHONE_KINDS:
        # The QR code opens a one-time download, never the password itself.
        url = context.get("download_url") or phone.offer(
            state, context["invitation"].device_name, phone.PASSWORD_PAGE, secret.encode()
        )
        context["qr_svg"] = phone.qr_svg(url)
    return _page(request, "settings.html", context)
