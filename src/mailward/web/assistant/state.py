"""The assistant's wiring: invitations, the mailer, security notices, downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request

from mailward.bootstrap import Services
from mailward.core.invitations import InvitationService
from mailward.core.notifications import (
    DeliveringMailer,
    Mailer,
    SecurityNotices,
    SmarthostRelay,
)
from mailward.mail.maildir import MailStore
from mailward.settings import Settings
from mailward.web.assistant.downloads import OneTimeDownloads


def relay_of(settings: Settings) -> SmarthostRelay | None:
    if not settings.smarthost:
        return None
    password = settings.smarthost_password
    return SmarthostRelay(
        settings.smarthost,
        settings.smarthost_port,
        settings.smarthost_username,
        password.get_secret_value() if password else None,
        settings.smarthost_starttls,
    )


@dataclass
class AssistantState:
    services: Services
    invitations: InvitationService
    mailer: Mailer
    downloads: OneTimeDownloads

    @classmethod
    def build(cls, services: Services, mailer: Mailer | None = None) -> AssistantState:
        settings = services.settings
        mailer = mailer or DeliveringMailer(
            services.db, MailStore(settings.mail_dir), relay_of(settings)
        )
        return cls(
            services=services,
            invitations=InvitationService(services.deps, services.devices),
            mailer=mailer,
            downloads=OneTimeDownloads(services.clock),
        )

    def security_notices(self) -> SecurityNotices:
        return SecurityNotices(self.services.db, self.mailer, self.services.settings.sender_address)


def assistant_state(request: Request) -> AssistantState:
    return cast(AssistantState, request.app.state.assistant)
