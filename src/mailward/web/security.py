"""Response headers, the anonymous cookie, and CSRF tokens.

Every form carries a token derived (keyed hash) from the browser's session token, or,
before sign-in, from a random anonymous cookie. A form without the right token is
refused before any use case runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from mailward.keys import ServerKeys

SESSION_COOKIE = "mw_session"
ANON_COOKIE = "mw_anon"
CSRF_FIELD = "csrf"
CSRF_PURPOSE = "web-csrf"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CsrfRejected(Exception):
    """A form arrived without the token of the page it should come from."""


def csrf_token(keys: ServerKeys, secret: str) -> str:
    return keys.mac(CSRF_PURPOSE, secret.encode()).hex()


def csrf_ok(keys: ServerKeys, secret: str, submitted: str) -> bool:
    return bool(secret) and secrets.compare_digest(csrf_token(keys, secret), submitted)


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """A local path to go back to; anything else (other hosts, ``//x``) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def set_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure, path="/")


Handler = Callable[[Request], Awaitable[Response]]


def security_middleware(secure: bool) -> Callable[[Request, Handler], Awaitable[Response]]:
    """Adds the headers to every response and gives each browser an anonymous cookie."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        anon = request.cookies.get(ANON_COOKIE, "")
        fresh = not (20 <= len(anon) <= 100)
        if fresh:
            anon = secrets.token_urlsafe(24)
        request.state.anon = anon
        response = await call_next(request)
        response.headers.update(HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if fresh:
            set_cookie(response, ANON_COOKIE, anon, secure)
        return response

    return middleware
