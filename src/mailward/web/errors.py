"""Each domain error becomes a page once, here: never a bare status code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from mailward.core.signin.limits import TooManyAttempts
from mailward.errors import MailwardError, NotAllowed, NotFound
from mailward.web.formatting import sentence
from mailward.web.security import CsrfRejected
from mailward.web.state import render
from mailward.web.viewer import GoTo, live_session


async def _viewer_context(request: Request) -> dict[str, object]:
    session = await live_session(request)
    signed_in = session is not None and session.second_factor_done
    return {"viewer": session if signed_in else None}


async def not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAllowed)
    context = await _viewer_context(request)
    context["error"] = exc
    return render(request, "not_allowed.html", context, status_code=403)


async def not_found(request: Request, exc: Exception) -> Response:
    context = await _viewer_context(request)
    return render(request, "not_found.html", context, status_code=404)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await not_found(request, exc)
    context = await _viewer_context(request)
    context["message"] = str(exc.detail)
    return render(request, "error.html", context, status_code=exc.status_code)


async def domain_error(request: Request, exc: Exception) -> Response:
    context = await _viewer_context(request)
    context["message"] = sentence(exc)
    status = 429 if isinstance(exc, TooManyAttempts) else 400
    return render(request, "error.html", context, status_code=status)


STORAGE_UNAVAILABLE = (
    "Mailward cannot save anything right now (its storage is full or unavailable). "
    "Nothing was changed. Try again in a few minutes; if it persists, tell the operator."
)


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    """A full disk (SQLite "database or disk is full", ENOSPC) or an unreachable
    database: a temporary failure, 503, not a 500. No database read here."""
    context: dict[str, object] = {"viewer": None, "message": STORAGE_UNAVAILABLE}
    response = render(request, "error.html", context, status_code=503)
    response.headers["Retry-After"] = "60"
    return response


async def csrf_rejected(request: Request, exc: Exception) -> Response:
    context = await _viewer_context(request)
    context["message"] = (
        "This form has expired or did not come from this Mailward page. "
        "Nothing was changed. Go back, reload the page and try again."
    )
    return render(request, "error.html", context, status_code=403)


async def go_to(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GoTo)
    return RedirectResponse(exc.path, status_code=303)


# The page of each error; the most specific kind of an error wins.
ERROR_PAGES: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    NotAllowed: not_allowed,
    NotFound: not_found,
    MailwardError: domain_error,
    HTTPException: http_error,
    CsrfRejected: csrf_rejected,
    GoTo: go_to,
    OperationalError: storage_unavailable,
    OSError: storage_unavailable,
}


def install_error_pages(app: FastAPI) -> None:
    for kind, page in ERROR_PAGES.items():
        app.add_exception_handler(kind, page)
