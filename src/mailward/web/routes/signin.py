"""Signing in (password, then second factor), signing out, and sudo mode."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Form, Request, Response

from mailward.core.accounts.service import AccountView
from mailward.core.signin.limits import TooManyAttempts
from mailward.core.signin.second_step import Client, SecondStepService, Step
from mailward.core.signin.websessions import IssuedSession, WebSessionView
from mailward.web.clientip import client_ip
from mailward.web.forms import go
from mailward.web.security import SESSION_COOKIE, safe_next, set_cookie
from mailward.web.state import render, web_state
from mailward.web.viewer import GoTo, SignedIn, live_session

router = APIRouter()

Text = Annotated[str, Form()]
Next = Annotated[str, Form()]


async def pending_session(request: Request) -> WebSessionView | None:
    session = await live_session(request)
    return session if session is not None and not session.second_factor_done else None


async def _pending_or_login(request: Request) -> WebSessionView:
    """The session between the password and the second factor; without one, the
    password first."""
    pending = await pending_session(request)
    if pending is None:
        raise GoTo("/login")
    return pending


Pending = Annotated[WebSessionView, Depends(_pending_or_login)]


@router.get("/")
async def home(request: Request) -> Response:
    session = await live_session(request)
    return go("/dashboard" if session and session.second_factor_done else "/login")


@router.get("/login")
async def login_form(
    request: Request, next: str = "", created: str = "", email: str = ""
) -> Response:
    session = await live_session(request)
    if session and session.second_factor_done:
        return go(safe_next(next))
    context = {"next": safe_next(next), "email": email.strip()[:320]}
    if created == "1":
        context["notice"] = "Your password is set. Sign in with it to continue."
    return render(request, "login.html", context)


@router.post("/login")
async def login(request: Request, email: Text, password: Text, next: Next = "") -> Response:
    state = web_state(request)
    context = {"next": safe_next(next), "email": email}
    try:
        account = await state.signin.check_password(email, password, client_ip(request))
    except TooManyAttempts as exc:
        return render(request, "login.html", {**context, "error": str(exc)}, status_code=429)
    if account is None:
        error = "The email or the password is wrong."
        return render(request, "login.html", {**context, "error": error}, status_code=401)
    return await _start_pending(request, account, safe_next(next))


async def _start_pending(request: Request, account: AccountView, next_path: str) -> Response:
    state = web_state(request)
    old = await live_session(request)
    if old is not None:
        await state.sessions.end(old.id)
    issued = await state.sessions.start(
        account.id, False, client_ip(request), request.headers.get("user-agent", "")
    )
    step = "/login/2fa" if account.totp_enabled else "/login/2fa/setup"
    response = go(f"{step}?next={quote(next_path)}")
    set_cookie(response, SESSION_COOKIE, issued.token, state.secure_cookies)
    return response


@router.get("/login/2fa")
async def second_factor_form(request: Request, pending: Pending, next: str = "") -> Response:
    context = {"next": safe_next(next), "has_passkeys": await _has_passkeys(request, pending)}
    return render(request, "login_2fa.html", context)


async def _has_passkeys(request: Request, session: WebSessionView) -> bool:
    """Whether to offer a passkey next to the code or the password."""
    return bool(await web_state(request).services.passkeys.list_for(session.account_id))


@router.post("/login/2fa")
async def second_factor(
    request: Request, pending: Pending, code: Text, next: Next = ""
) -> Response:
    outcome = await second_step(request).verify(pending, code, browser_client(request))
    if outcome.issued is None:
        status = 429 if outcome.step is Step.TOO_MANY else 401
        context = {
            "next": safe_next(next),
            "error": outcome.error,
            "has_passkeys": await _has_passkeys(request, pending),
        }
        return render(request, "login_2fa.html", context, status)
    return signed_in_response(request, go(safe_next(next)), outcome.issued)


def second_step(request: Request) -> SecondStepService:
    state = web_state(request)
    return SecondStepService(state.signin, state.second_factor, state.sessions)


def browser_client(request: Request) -> Client:
    return Client(client_ip(request), request.headers.get("user-agent", ""))


def signed_in_response(request: Request, response: Response, issued: IssuedSession) -> Response:
    """The new full session's cookie: nothing from before the second factor survives."""
    set_cookie(response, SESSION_COOKIE, issued.token, web_state(request).secure_cookies)
    return response


def _qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#1f2a37", title="QR code"))


@router.get("/login/2fa/setup")
async def enrol_form(request: Request, pending: Pending, next: str = "") -> Response:
    return await _enrol_page(request, pending, safe_next(next), None)


async def _enrol_page(
    request: Request, pending: WebSessionView, next_path: str, error: str | None
) -> Response:
    enrolment = await web_state(request).second_factor.begin_enrolment(pending.account_id)
    context = {
        "next": next_path,
        "secret": enrolment.secret,
        "qr_svg": _qr_svg(enrolment.uri),
        "error": error,
    }
    return render(request, "login_2fa_setup.html", context, 400 if error else 200)


@router.post("/login/2fa/setup")
async def enrol(request: Request, pending: Pending, code: Text, next: Next = "") -> Response:
    outcome = await second_step(request).enrol(pending, code, browser_client(request))
    if outcome.issued is None:
        return await _enrol_page(request, pending, safe_next(next), outcome.error)
    context = {"codes": list(outcome.codes), "next": safe_next(next), "csrf": ""}
    return signed_in_response(
        request, render(request, "recovery_codes.html", context), outcome.issued
    )


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await live_session(request)
    if session is not None:
        await web_state(request).sessions.end(session.id)
    return signed_out()


def signed_out() -> Response:
    """The sign-in page, the session's cookie gone."""
    response = go("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/sudo")
async def sudo_form(request: Request, viewer: SignedIn, next: str = "") -> Response:
    context = {"viewer": viewer.session, "next": safe_next(next)}
    context["has_passkeys"] = await _has_passkeys(request, viewer.session)
    return render(request, "sudo.html", context)


@router.post("/sudo")
async def sudo(request: Request, viewer: SignedIn, password: Text, next: Next = "") -> Response:
    state = web_state(request)
    context = {"viewer": viewer.session, "next": safe_next(next)}
    context["has_passkeys"] = await _has_passkeys(request, viewer.session)
    try:
        account = await state.signin.check_password(
            viewer.session.email, password, client_ip(request)
        )
    except TooManyAttempts as exc:
        return render(request, "sudo.html", {**context, "error": str(exc)}, 429)
    if account is None or account.id != viewer.account_id:
        return render(request, "sudo.html", {**context, "error": "This password is wrong."}, 401)
    await state.sessions.grant_sudo(viewer.session.id)
    return go(safe_next(next))
