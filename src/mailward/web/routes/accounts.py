"""The signed-in person's own account: password, second factor, sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from mailward.core.signin.limits import TooManyAttempts
from mailward.errors import InvalidInput
from mailward.web.forms import go
from mailward.web.routes.signin import signed_out
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer, client_ip

router = APIRouter()

Text = Annotated[str, Form()]


async def _account_page(
    request: Request,
    viewer: Viewer,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    state = web_state(request)
    context = {
        "viewer": viewer.session,
        "account": await state.services.accounts.get(viewer.account_id),
        "sessions": await state.sessions.list_for(viewer.account_id),
        "current_session_id": viewer.session.id,
        "error": error,
        "notice": notice,
    }
    return render(request, "account.html", context, status_code)


@router.get("/account")
async def account(request: Request, viewer: SignedIn) -> Response:
    return await _account_page(request, viewer)


@router.post("/account/password")
async def change_password(
    request: Request, viewer: SignedIn, current: Text, new: Text, confirm: Text
) -> Response:
    state = web_state(request)
    try:
        ok = await state.signin.check_password(viewer.session.email, current, client_ip(request))
    except TooManyAttempts as exc:
        return await _account_page(request, viewer, error=str(exc), status_code=429)
    if ok is None:
        return await _account_page(
            request, viewer, error="Your current password is wrong.", status_code=400
        )
    if new != confirm:
        error = "The new password and its confirmation differ."
        return await _account_page(request, viewer, error=error, status_code=400)
    try:
        await state.services.accounts.change_password(viewer.actor, viewer.account_id, new)
    except InvalidInput as exc:
        error = f"The new password {exc.reason}."
        return await _account_page(request, viewer, error=error, status_code=400)
    await _end_other_sessions(request, viewer)
    notice = "Your password was changed. Your other sessions were signed out."
    return await _account_page(request, viewer, notice=notice)


async def _end_other_sessions(request: Request, viewer: Viewer) -> None:
    sessions = web_state(request).sessions
    for session in await sessions.list_for(viewer.account_id):
        if session.id != viewer.session.id:
            await sessions.end_for(viewer.account_id, session.id)


@router.post("/account/sessions/{session_id}/end")
async def end_session(request: Request, viewer: SignedIn, session_id: int) -> Response:
    await web_state(request).sessions.end_for(viewer.account_id, session_id)
    if session_id == viewer.session.id:
        return signed_out()
    return go("/account")


@router.post("/account/sessions/end-all")
async def end_all_sessions(request: Request, viewer: SignedIn) -> Response:
    await web_state(request).sessions.end_all(viewer.account_id)
    return signed_out()
