"""Proving control of an email address, to create an account's password or choose a
new one: ask for a code (mailed to that address only), then enter it with the new
password. Every answer reads the same whether or not the account exists."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response

from mailward.core.accounts.emailproof import CODE_LIFETIME, EmailProofService, ProofRequest
from mailward.core.accounts.service import MIN_ACCOUNT_PASSWORD
from mailward.core.signin.limits import TooManyAttempts
from mailward.errors import InvalidInput
from mailward.web.formatting import sentence
from mailward.web.forms import go
from mailward.web.security import safe_next
from mailward.web.state import render, web_state
from mailward.web.viewer import client_ip

router = APIRouter()

Text = Annotated[str, Form()]
MAX_EMAIL = 320


def proofs(request: Request) -> EmailProofService:
    return web_state(request).services.email_proofs


def _page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    context.setdefault("min_account_password", MIN_ACCOUNT_PASSWORD)
    context.setdefault("minutes", int(CODE_LIFETIME.total_seconds() // 60))
    response = render(request, "email_code.html", context, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/email-code")
async def ask_form(request: Request, email: str = "", next: str = "") -> Response:
    return _page(request, {"step": "ask", "email": email[:MAX_EMAIL], "next": safe_next(next)})


@router.post("/email-code")
async def send_code(
    request: Request, background: BackgroundTasks, email: Text = "", next: Text = ""
) -> Response:
    """Mail a code; the message leaves after the answer, so its time tells nothing."""
    email = email.strip()[:MAX_EMAIL]
    context: dict[str, Any] = {"step": "enter", "email": email, "next": safe_next(next)}
    if not email:
        context.update(step="ask", error="Type the email address of your account.")
        return _page(request, context, 400)
    service = proofs(request)
    try:
        message = await service.new_code(ProofRequest(email, client_ip(request)))
    except TooManyAttempts as exc:
        context["error"] = f"{sentence(exc)}. A code already sent still works."
        return _page(request, context, 429)
    if message is not None:
        background.add_task(service.send, message)
    return _page(request, context)


@router.post("/email-code/password")
async def choose_password(
    request: Request,
    email: Text = "",
    code: Text = "",
    password: Text = "",
    confirm: Text = "",
    next: Text = "",
) -> Response:
    email = email.strip()[:MAX_EMAIL]
    context: dict[str, Any] = {"step": "enter", "email": email, "next": safe_next(next)}
    try:
        if password != confirm:
            raise InvalidInput("password", "the two passwords differ")
        request_ = ProofRequest(email, client_ip(request))
        account = await proofs(request).set_password(request_, code[:64], password)
    except InvalidInput as exc:
        context["error"] = sentence(exc) + "."
        return _page(request, context, 400)
    except TooManyAttempts as exc:
        context["error"] = sentence(exc) + "."
        return _page(request, context, 429)
    # A new password set by proof of the mailbox ends whatever the old one opened:
    # every web session and personal API token of the account.
    await web_state(request).sessions.end_all(account.id, request_.ip)
    login = f"/login?next={quote(context['next'])}&created=1&email={quote(account.email)}"
    return go(login)
