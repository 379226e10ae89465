"""Setup assistant, client auto-configuration and notification emails (issue 6).

``install_assistant(app, services)`` adds, to the web manager made by ``create_app``:
the invitation pages (administrator and invited person), the one-time Apple profile
download, the DNS records page and the public discovery documents. The security notices
of device changes are wired once per node
(:meth:`~mailward.bootstrap.Services.send_security_notices`), however many apps it runs.
"""

from __future__ import annotations

from fastapi import FastAPI

from mailward.bootstrap import Services
from mailward.core.notifications import Mailer
from mailward.web.assistant import admin, invited, phone
from mailward.web.assistant.admin import pending_invitations
from mailward.web.assistant.discovery import mount_discovery
from mailward.web.assistant.state import AssistantState, assistant_state

__all__ = ["AssistantState", "assistant_state", "install_assistant", "pending_invitations"]


def install_assistant(app: FastAPI, services: Services, mailer: Mailer | None = None) -> None:
    state = AssistantState.build(services, mailer)
    app.state.assistant = state
    app.include_router(admin.router)
    app.include_router(invited.router)
    app.include_router(phone.router)
    mount_discovery(app, services)
    services.send_security_notices(state.mailer)  # once per node, not per app
