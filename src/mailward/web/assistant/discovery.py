"""Public discovery documents, answered for every domain that has a Mail Service.

Served by a small application mounted under the paths clients use: it has no CSRF
check (Outlook POSTs XML) and no session. Names and ports come from the settings,
never from the request's Host header.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from mailward.bootstrap import Services
from mailward.core.clientsettings import (
    autodiscover_error,
    autodiscover_json,
    autodiscover_pox,
    autodiscover_request_email,
    mobileconfig,
    thunderbird_autoconfig,
)
from mailward.core.discovery import served_domain_of, served_domains

XML = "application/xml"
MOBILECONFIG = "application/x-apple-aspen-config"
AUTOCONFIG_MOUNTS = ("/.well-known/autoconfig", "/mail")
AUTODISCOVER_MOUNTS = ("/autodiscover", "/Autodiscover", "/AutoDiscover")


def _not_served() -> Response:
    return Response("No Mail Service for this domain.\n", 404, media_type="text/plain")


def autoconfig_app(services: Services) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    async def config(emailaddress: str = "") -> Response:
        if emailaddress:
            domain = await served_domain_of(services.db, emailaddress)
            domains = [domain] if domain else []
        else:
            domains = await served_domains(services.db)
        if not domains:
            return _not_served()
        xml = thunderbird_autoconfig(services.settings, domains[0], domains[1:])
        return Response(xml, media_type=XML)

    async def profile(emailaddress: str = "") -> Response:
        if not emailaddress or await served_domain_of(services.db, emailaddress) is None:
            return _not_served()
        content = mobileconfig(services.settings, emailaddress.strip().lower())
        headers = {"Content-Disposition": 'attachment; filename="mail.mobileconfig"'}
        return Response(content, media_type=MOBILECONFIG, headers=headers)

    app.add_api_route("/mail/config-v1.1.xml", config, methods=["GET", "HEAD"])
    app.add_api_route("/config-v1.1.xml", config, methods=["GET", "HEAD"])
    app.add_api_route("/profile.mobileconfig", profile, methods=["GET"])
    return app


def autodiscover_app(services: Services) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    async def document(request: Request, name: str) -> Response:
        name = name.lower()
        if name == "autodiscover.json":
            status, body = autodiscover_json(
                services.settings, request.query_params.get("Protocol", "")
            )
            return JSONResponse(body, status_code=status)
        if name != "autodiscover.xml":
            return _not_served()
        email = autodiscover_request_email(await request.body())
        if email is None:
            return Response(autodiscover_error(600, "Invalid Request"), media_type=XML)
        if await served_domain_of(services.db, email) is None:
            return Response(autodiscover_error(600, "Invalid Request"), 404, media_type=XML)
        return Response(autodiscover_pox(services.settings, email.lower()), media_type=XML)

    app.add_api_route("/{name}", document, methods=["GET", "POST"])
    return app


def mount_discovery(app: FastAPI, services: Services) -> None:
    autoconfig = autoconfig_app(services)
    for prefix in AUTOCONFIG_MOUNTS:
        app.mount(prefix, autoconfig)
    autodiscover = autodiscover_app(services)
    for prefix in AUTODISCOVER_MOUNTS:
        app.mount(prefix, autodiscover)
