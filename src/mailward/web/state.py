"""What every route reaches through the request: the services and the page renderer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mailward.bootstrap import Services
from mailward.core.rights import RightsService
from mailward.core.signin import SignInService
from mailward.core.totp import SecondFactorService
from mailward.core.websessions import WebSessionService
from mailward.web.formatting import FILTERS

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass
class WebState:
    services: Services
    sessions: WebSessionService
    second_factor: SecondFactorService
    signin: SignInService
    rights: RightsService
    templates: Jinja2Templates

    @classmethod
    def build(cls, services: Services) -> WebState:
        templates = Jinja2Templates(directory=TEMPLATES_DIR)
        templates.env.filters.update(FILTERS)
        deps = services.deps
        return cls(
            services=services,
            sessions=WebSessionService(deps, services.settings.sudo_minutes),
            second_factor=SecondFactorService(deps),
            signin=SignInService(deps, services.accounts),
            rights=RightsService(deps),
            templates=templates,
        )

    @property
    def secure_cookies(self) -> bool:
        return self.services.settings.effective_public_url.startswith("https://")


def web_state(request: Request) -> WebState:
    return cast(WebState, request.app.state.web)


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page. ``context`` should carry ``viewer`` (or None) and ``csrf``."""
    state = web_state(request)
    context.setdefault("viewer", None)
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    context.setdefault("public_url", state.services.settings.effective_public_url)
    return state.templates.TemplateResponse(request, template, context, status_code=status_code)
