"""Setup assistant, client auto-configuration and notification emails (issue 6).

``install_assistant(app, services)`` adds, to the web manager made by ``create_app``:
the invitation pages (administrator and invited person), the one-time Apple profile
download, the DNS records page, the public discovery documents, and the security
notices sent when a device password is created, changed or revoked.
"""

from __future__ import annotations

from fastapi import FastAPI

from mailward.bootstrap import Services
from mailward.core.notifications import Mailer
from mailward.mail.outbox import send_security_notices
from mailward.web.assistant import admin, invited
from mailward.web.assistant.admin import pending_invitations
from mailward.web.assistant.discovery import mount_discovery
from mailward.web.assistant.state import AssistantState, assistant_state

__all__ = ["AssistantState", "assistant_state", "install_assistant", "pending_invitations"]


def install_assistant(app: FastAPI, services: Services, mailer: Mailer | None = None) -> None:
    state = AssistantState.build(services, mailer)
    app.state.assistant = state
    app.include_router(admin.router)
    app.include_router(invited.router)
    mount_discovery(app, services)
    # In the background, after the credential cache and the live sessions; only for
    # changes made in this process, so one change makes one notice on any number of nodes.
    send_security_notices(services, state.mailer)
