"""The ``/api/v1`` application, mounted into the web app by :func:`install_api`.

It is a mounted sub-application rather than routes of the manager so that the manager's
cookie, CSRF and HTML error handling never apply to bearer-authenticated JSON calls, and
every error under ``/api/v1`` (unknown path and wrong method included) is problem+json.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from starlette.routing import Mount
from starlette.types import ASGIApp

from mailward.bootstrap import Services
from mailward.web.api.context import ApiState
from mailward.web.api.limits import ApiRateLimiter, api_limits
from mailward.web.api.problems import Problem, install_problems
from mailward.web.api.routes import router

PREFIX = "/api/v1"
TITLE = "Mailward API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Everything the Mailward manager does, for automation. Authenticate with a personal "
    "API token (`Authorization: Bearer mwt_...`); a token acts as its person, in the one "
    "organization it was made for. Errors are RFC 9457 problem details."
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API, paths relative to ``/api/v1`` (committed as
    ``docs/openapi.json``: ``python -m mailward.web.api.document > docs/openapi.json``)."""
    document = get_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        routes=router.routes,
        servers=[{"url": PREFIX}],
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return document


async def _no_store(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def build_api(services: Services, limiter: ApiRateLimiter | None = None) -> FastAPI:
    api = FastAPI(title=TITLE, version=VERSION, docs_url=None, redoc_url=None, openapi_url=None)
    api.state.api = ApiState(
        services,
        services.api_tokens,
        limiter
        or ApiRateLimiter(
            services.deps.limit_store, api_limits(services.settings.api_requests_per_minute)
        ),
    )
    install_problems(api)
    api.middleware("http")(_no_store)
    api.include_router(router)

    document: dict[str, Any] = {}

    def cached_openapi() -> dict[str, Any]:
        if not document:
            document.update(openapi_document())
        return document

    api.openapi = cached_openapi  # type: ignore[method-assign]

    @api.get("/openapi.json", include_in_schema=False)
    async def serve_openapi() -> dict[str, Any]:
        return cached_openapi()

    return api


class ApiMount(Mount):
    """A mount that takes every path under its prefix. Starlette's pattern is ``.*``,
    which stops at a newline: ``/api/v1/.../%0A`` would fall through to the HTML
    manager's 404 page instead of the API's problem+json."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def install_api(app: FastAPI, services: Services, limiter: ApiRateLimiter | None = None) -> None:
    """Serve the JSON API under ``/api/v1`` of ``app`` (its document at
    ``/api/v1/openapi.json``)."""
    app.router.routes.append(ApiMount(PREFIX, build_api(services, limiter)))
