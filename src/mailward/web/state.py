"""What every route reaches through the request: the services and the page renderer."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from mailward.bootstrap import Services
from mailward.core.access.rights import RightsService
from mailward.core.signin.limits import SignInService
from mailward.core.signin.totp import SecondFactorService
from mailward.core.signin.websessions import WebSessionService
from mailward.web.formatting import FILTERS

TEMPLATES_DIR = Path(__file__).parent / "templates"
SECRET_MARK = re.compile(r"\{#\s*secret:\s*(sudo|sign-in)\s*#\}")
log = logging.getLogger("mailward.web")


@dataclass
class WebState:
    """The node's services (wired in bootstrap) and the page renderer. The use cases the
    sign-in and session code reaches most are the services' own, named here."""

    services: Services
    templates: Jinja2Templates

    @classmethod
    def build(cls, services: Services) -> WebState:
        templates = Jinja2Templates(directory=TEMPLATES_DIR)
        templates.env.filters.update(FILTERS)
        return cls(services, templates)

    @property
    def sessions(self) -> WebSessionService:
        return self.services.web_sessions

    @property
    def second_factor(self) -> SecondFactorService:
        return self.services.second_factor

    @property
    def signin(self) -> SignInService:
        return self.services.signin

    @property
    def rights(self) -> RightsService:
        return self.services.rights

    @property
    def secure_cookies(self) -> bool:
        return self.services.settings.effective_public_url.startswith("https://")


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)


@functools.cache
def secret_kind(template: str) -> str | None:
    """``"sudo"`` or ``"sign-in"`` for a template that shows a secret (it starts with
    ``{# secret: sudo #}`` or ``{# secret: sign-in #}``), None for the others."""
    found = SECRET_MARK.match((TEMPLATES_DIR / template).read_text(encoding="utf-8"))
    return found.group(1) if found else None


def _refused_secret(request: Request, template: str) -> Response | None:
    """A last line behind :class:`~mailward.web.viewer.SudoFor`: a page showing a new
    secret is never rendered for a route that did not ask for the password again."""
    if secret_kind(template) != "sudo" or getattr(request.state, "reauthenticated", False):
        return None
    log.error("route %s renders %s without re-authentication", request.url.path, template)
    back = request.url.path if request.method == "GET" else "/dashboard"
    return RedirectResponse(f"/sudo?next={quote(back)}", status_code=303)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """A page. ``context`` should carry ``viewer`` (or None) and ``csrf``."""
    refused = _refused_secret(request, template)
    if refused is not None:
        return refused
    state = web_state(request)
    context.setdefault("viewer", None)
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    context.setdefault("public_url", state.services.settings.effective_public_url)
    return state.templates.TemplateResponse(request, template, context, status_code=status_code)
