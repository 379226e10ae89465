"""Passkeys in the manager: the account's list (add, remove, under sudo), and using
one to sign in alone, as the second factor, or to confirm it is you (sudo).

Each ceremony is two POSTs from ``static/passkeys.js``: ``…/options`` gives the JSON
for the browser (a challenge bound to this browser's cookie), and the answer goes back
to the ceremony's path. Both carry the page's CSRF token like any form. Without
JavaScript or a passkey the password and code forms work as before.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from mailward.core.notifications import account_notice
from mailward.core.passkeys.challenges import Ceremony
from mailward.core.passkeys.service import PasskeyRefused
from mailward.core.signin.limits import TooManyAttempts
from mailward.errors import InvalidInput
from mailward.web.clientip import client_ip
from mailward.web.forms import go
from mailward.web.routes.signin import (
    browser_client,
    pending_session,
    second_step,
    signed_in_response,
)
from mailward.web.security import SESSION_COOKIE, safe_next
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer, live_session, reauthenticated

router = APIRouter()

Text = Annotated[str, Form()]
BACK = "/account/passkeys"
Reauthenticated = Annotated[Viewer, reauthenticated(BACK)]


async def browser_secret(request: Request) -> str:
    """What ties a challenge to this browser: its session cookie, or before sign-in
    its anonymous cookie (the same secret its CSRF token comes from)."""
    if await live_session(request) is not None:
        return request.cookies.get(SESSION_COOKIE, "")
    return str(request.state.anon)


def _options(options_json: str) -> Response:
    return Response(options_json, media_type="application/json")


def _refused(reason: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status_code)


def _go_on(next_path: str) -> JSONResponse:
    return JSONResponse({"next": next_path})


# -- the account's passkeys --------------------------------------------------------------


@router.get("/account/passkeys")
async def passkeys_page(request: Request, viewer: Reauthenticated, notice: str = "") -> Response:
    passkeys = await web_state(request).services.passkeys.list_for(viewer.account_id)
    notices = {"added": "The passkey was added.", "removed": "The passkey was removed."}
    context = {"viewer": viewer.session, "passkeys": passkeys, "notice": notices.get(notice)}
    return render(request, "account_passkeys.html", context)


@router.post("/account/passkeys/options")
async def registration_options(request: Request, viewer: Reauthenticated) -> Response:
    passkeys = web_state(request).services.passkeys
    return _options(
        await passkeys.registration_options(viewer.account_id, await browser_secret(request))
    )


@router.post("/account/passkeys")
async def register(
    request: Request, viewer: Reauthenticated, name: Text, credential: Text
) -> Response:
    services = web_state(request).services
    try:
        added = await services.passkeys.register(
            viewer.actor, viewer.account_id, await browser_secret(request), name, credential
        )
    except InvalidInput as exc:
        return _refused(f"The {exc.field} {exc.reason}.")
    await _tell_owner(request, viewer, f"A passkey was added to your account: {added.name}")
    return _go_on(f"{BACK}?notice=added")


@router.post("/account/passkeys/{passkey_id}/remove")
async def remove(request: Request, viewer: Reauthenticated, passkey_id: int) -> Response:
    services = web_state(request).services
    removed = await services.passkeys.remove(viewer.actor, viewer.account_id, passkey_id)
    await _tell_owner(request, viewer, f"A passkey was removed from your account: {removed.name}")
    return go(f"{BACK}?notice=removed")


async def _tell_owner(request: Request, viewer: Viewer, headline: str) -> None:
    """The usual security notice, to the account's own address."""
    services = web_state(request).services
    message = account_notice(
        services.settings.sender_address,
        viewer.session.email,
        headline,
        client_ip(request),
        services.clock.now(),
    )
    await services.mailer.send(message)


# -- signing in with a passkey alone -----------------------------------------------------


@router.post("/login/passkey/options")
async def sign_in_options(request: Request) -> Response:
    passkeys = web_state(request).services.passkeys
    secret = await browser_secret(request)
    return _options(await passkeys.authentication_options(secret, Ceremony.SIGN_IN, None))


@router.post("/login/passkey")
async def sign_in(request: Request, credential: Text, next: Text = "") -> Response:
    state = web_state(request)
    secret = await browser_secret(request)
    ip = client_ip(request)
    try:
        await state.signin.check_network_allowed(ip)
        account_id = await state.services.passkeys.check(secret, Ceremony.SIGN_IN, credential, ip)
    except TooManyAttempts as exc:
        return _refused(str(exc).capitalize() + ".", 429)
    except PasskeyRefused as exc:
        await state.signin.network_failed(ip)
        return _refused(exc.reason, 401)
    old = await live_session(request)
    if old is not None:
        await state.sessions.end(old.id)
    client = browser_client(request)
    issued = await state.sessions.start(account_id, True, client.ip, client.user_agent)
    await state.signin.signed_in(await state.services.accounts.get(account_id), client.ip)
    return signed_in_response(request, _go_on(safe_next(next)), issued)


# -- a passkey as the second factor ------------------------------------------------------


@router.post("/login/2fa/passkey/options")
async def second_factor_options(request: Request) -> Response:
    pending = await pending_session(request)
    if pending is None:
        return _refused("Sign in with your password first.", 401)
    passkeys = web_state(request).services.passkeys
    secret = await browser_secret(request)
    return _options(
        await passkeys.authentication_options(secret, Ceremony.SECOND_FACTOR, pending.account_id)
    )


@router.post("/login/2fa/passkey")
async def second_factor(request: Request, credential: Text, next: Text = "") -> Response:
    pending = await pending_session(request)
    if pending is None:
        return _refused("Sign in with your password first.", 401)
    state = web_state(request)
    try:
        await state.signin.check_second_factor_allowed(pending.account_id)
    except TooManyAttempts as exc:
        await state.sessions.end(pending.id)
        return _refused(str(exc), 429)
    secret = await browser_secret(request)
    try:
        await state.services.passkeys.check(
            secret, Ceremony.SECOND_FACTOR, credential, client_ip(request)
        )
    except PasskeyRefused as exc:
        await state.signin.second_factor_failed(pending.account_id)
        return _refused(exc.reason, 401)
    issued = await second_step(request).complete(pending, browser_client(request))
    return signed_in_response(request, _go_on(safe_next(next)), issued)


# -- a passkey instead of the password, for sudo -----------------------------------------


@router.post("/sudo/passkey/options")
async def sudo_options(request: Request, viewer: SignedIn) -> Response:
    passkeys = web_state(request).services.passkeys
    secret = await browser_secret(request)
    return _options(await passkeys.authentication_options(secret, Ceremony.SUDO, viewer.account_id))


@router.post("/sudo/passkey")
async def sudo(request: Request, viewer: SignedIn, credential: Text, next: Text = "") -> Response:
    state = web_state(request)
    secret = await browser_secret(request)
    try:
        await state.services.passkeys.check(secret, Ceremony.SUDO, credential, client_ip(request))
    except PasskeyRefused as exc:
        return _refused(exc.reason, 401)
    await state.sessions.grant_sudo(viewer.session.id)
    return _go_on(safe_next(next))
