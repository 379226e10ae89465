"""The web manager application: ``create_app(services)``, served by ``mailward serve``."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from mailward.bootstrap import Services
from mailward.web.api import install_api
from mailward.web.assistant import install_assistant
from mailward.web.errors import install_error_pages
from mailward.web.routes import (
    accounts,
    addresses,
    api_tokens,
    consent,
    device_access,
    device_use,
    email_code,
    mail_checks,
    orgs,
    passkeys,
    policy,
    signin,
)
from mailward.web.routes import devices as device_routes
from mailward.web.routes.acme_challenge import router as acme_challenge_router
from mailward.web.routes.mta_sts import router as mta_sts_router
from mailward.web.security import security_middleware
from mailward.web.state import WebState
from mailward.web.viewer import csrf_guard

STATIC_DIR = Path(__file__).parent / "static"


async def favicon() -> FileResponse:
    """Browsers ask every site for /favicon.ico, whatever the page's <link rel=icon>."""
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon")


def create_app(services: Services) -> FastAPI:
    """The HTML manager over ``services``. Public URLs come from the settings."""
    state = WebState.build(services)
    app = FastAPI(
        title="Mailward",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.web = state
    app.middleware("http")(security_middleware(state.secure_cookies))
    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/favicon.ico", favicon, include_in_schema=False)
    app.include_router(acme_challenge_router)
    app.include_router(mta_sts_router)
    for module in (signin, accounts, api_tokens, orgs, addresses, device_routes, device_access):
        app.include_router(module.router)
    for module in (consent, email_code, passkeys):
        app.include_router(module.router)
    app.include_router(device_use.router)
    app.include_router(policy.router)
    app.include_router(mail_checks.router)
    install_api(app, services)
    install_assistant(app, services)
    return app
