"""RFC 9457 problem details: every error of ``/api/v1`` becomes one, here, once."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from mailward.core.accounts.apitokens import InvalidApiToken
from mailward.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    MailwardError,
    NotAllowed,
    NotFound,
)
from mailward.web.api.limits import ApiRateLimited

PROBLEM_BASE = "https://mailward.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# (error class, status, title): the first matching class wins.
STATUSES: tuple[tuple[type[MailwardError], int, str], ...] = (
    (InvalidApiToken, 401, "Authentication required"),
    (NotAllowed, 403, "Not allowed"),
    (NotFound, 404, "Not found"),
    (AlreadyExists, 409, "Already exists"),
    (Conflict, 409, "Conflict"),
    (InvalidInput, 422, "Invalid input"),
    (ApiRateLimited, 429, "Too many requests"),
)


class Problem(BaseModel):
    """An error (RFC 9457). ``type`` is stable; ``who_can`` says whom to ask for a right."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    who_can: list[str] | None = None
    field: str | None = None
    errors: list[dict[str, Any]] | None = None
    retry_after: int | None = None


def problem(
    request: Request, status: int, code: str, title: str, detail: str, **extra: Any
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        **extra,
    )
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mailward"'
    if body.retry_after is not None:
        headers["Retry-After"] = str(body.retry_after)
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


def _extra(exc: MailwardError) -> dict[str, Any]:
    if isinstance(exc, NotAllowed):
        return {"who_can": exc.who_can}
    if isinstance(exc, InvalidInput):
        return {"field": exc.field}
    if isinstance(exc, ApiRateLimited):
        return {"retry_after": round(exc.retry_after)}
    return {}


async def domain_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MailwardError)
    for kind, status, title in STATUSES:
        if isinstance(exc, kind):
            return problem(request, status, exc.code, title, str(exc), **_extra(exc))
    return problem(request, 400, exc.code, "Bad request", str(exc))


async def validation_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The submitted values are left out: a rejected body may hold a password.
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
    return problem(request, 422, "invalid-input", "Invalid input", detail, errors=errors)


async def http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {400: "malformed-request", 404: "not-found", 405: "method-not-allowed"}
    code = codes.get(exc.status_code, f"http-{exc.status_code}")
    response = problem(request, exc.status_code, code, str(exc.detail), str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(sorted(allowed_methods(request)))
    return response


def allowed_methods(request: Request) -> set[str]:
    """Every method of every route at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match != Match.NONE:
                methods |= route.methods
    return methods


async def storage_problem(request: Request, exc: Exception) -> Response:
    """A full disk or an unreachable database: a temporary failure (503)."""
    response = problem(
        request,
        503,
        "storage-unavailable",
        "Temporarily unavailable",
        "Mailward cannot save anything right now; nothing was changed. Try again later.",
    )
    response.headers["Retry-After"] = "60"
    return response


def install_problems(api: FastAPI) -> None:
    api.add_exception_handler(MailwardError, domain_problem)
    api.add_exception_handler(RequestValidationError, validation_problem)
    api.add_exception_handler(HTTPException, http_problem)
    api.add_exception_handler(OperationalError, storage_problem)
    api.add_exception_handler(OSError, storage_problem)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an operation may answer."""
    described = {400: "Malformed request body", 401: "No valid API token", 429: "Rate limited"}
    described.update({status: title for _, status, title in STATUSES})
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {"description": described[status], "content": {MEDIA_TYPE: {"schema": ref}}}
        for status in statuses
    }
