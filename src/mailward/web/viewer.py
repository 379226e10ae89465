"""Who is looking: the browser's session, resolved once per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request

from mailward.core.access.actors import Actor
from mailward.core.signin.websessions import WebSessionView
from mailward.web.clientip import client_ip as client_ip
from mailward.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    CsrfRejected,
    csrf_ok,
    csrf_token,
)
from mailward.web.state import web_state


class GoTo(Exception):
    """What a route's dependency raises instead of the page: the browser goes to
    ``path`` (303)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def sign_in_first(next_path: str) -> GoTo:
    return GoTo(f"/login?next={quote(next_path)}")


def password_again_first(next_path: str) -> GoTo:
    """The page shows a new secret and the password was typed too long ago."""
    return GoTo(f"/sudo?next={quote(next_path)}")


@dataclass(frozen=True)
class Viewer:
    session: WebSessionView
    actor: Actor

    @property
    def account_id(self) -> int:
        return self.session.account_id


def here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}{query}"


async def live_session(request: Request) -> WebSessionView | None:
    """The session behind the cookie (pending or complete), looked up once."""
    if not hasattr(request.state, "session"):
        token = request.cookies.get(SESSION_COOKIE, "")
        request.state.session = await web_state(request).sessions.find(token) if token else None
    session: WebSessionView | None = request.state.session
    return session


async def csrf_guard(request: Request) -> None:
    """Applied to every route: makes the page's token, and checks it on every POST."""
    session = await live_session(request)
    secret = request.cookies.get(SESSION_COOKIE, "") if session else request.state.anon
    keys = web_state(request).services.keys
    request.state.csrf = csrf_token(keys, secret)
    if request.method in ("GET", "HEAD"):
        return
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not csrf_ok(keys, secret, submitted):
        raise CsrfRejected()


async def current_viewer(request: Request) -> Viewer:
    session = await live_session(request)
    if session is None or not session.second_factor_done:
        raise sign_in_first(here(request) if request.method == "GET" else "/dashboard")
    return Viewer(session, Actor(session.account_id, session.email, client_ip(request)))


SignedIn = Annotated[Viewer, Depends(current_viewer)]


class SudoFor:
    """The dependency of every route that shows a new secret (device password, setup
    assistant link, API token): signed in, and the password typed within the sudo
    window, checked before the route does anything. Being the only way to reach
    ``request.state.reauthenticated``, it is also the mark that ``render`` and the
    route-table test look for (tests/security/test_web_sudo.py).

    ``back_to`` is where to return after the password, a path whose ``{name}`` parts
    come from the route's path parameters; the current page when omitted (GET)."""

    def __init__(self, back_to: str | None = None) -> None:
        self.back_to = back_to

    async def __call__(self, request: Request) -> Viewer:
        viewer = await current_viewer(request)
        if not viewer.session.in_sudo(web_state(request).services.clock.now()):
            back = self.back_to.format(**request.path_params) if self.back_to else here(request)
            raise password_again_first(back)
        request.state.reauthenticated = True
        return viewer


def reauthenticated(back_to: str | None = None) -> Any:
    """``viewer: Annotated[Viewer, reauthenticated("/back")]``: see :class:`SudoFor`."""
    return Depends(SudoFor(back_to))
