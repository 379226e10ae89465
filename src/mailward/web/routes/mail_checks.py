"""A Mail Service's checks page: what ``mailward doctor DOMAIN`` reports, for the people
who manage the domain (its records looked up through the ``dns_resolvers`` now)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mailward.core.mailservices.doctor import worst
from mailward.doctor import diagnose
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn

router = APIRouter()


@router.get("/mail-services/{ms_id}/checks")
async def mail_service_checks(request: Request, viewer: SignedIn, ms_id: int) -> Response:
    services = web_state(request).services
    mail_service = await services.mail_services.get(viewer.actor, ms_id)  # NotFound elsewhere
    organization = await services.organizations.get(viewer.actor, mail_service.organization_id)
    checks = await diagnose(services, mail_service.domain)
    context = {
        "viewer": viewer.session,
        "mail_service": mail_service,
        "organization": organization,
        "checks": checks,
        "overall": worst(checks),
    }
    return render(request, "mail_service_checks.html", context)
