"""What the assistant's pages reach: invitations, the node's mailer, downloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from fastapi import Request

from mailward.bootstrap import Services
from mailward.core.invitations.service import InvitationService
from mailward.core.notifications import Mailer
from mailward.web.assistant.downloads import OneTimeDownloads


@dataclass
class AssistantState:
    services: Services
    invitations: InvitationService
    mailer: Mailer
    downloads: OneTimeDownloads

    @classmethod
    def build(cls, services: Services, mailer: Mailer | None = None) -> AssistantState:
        return cls(
            services=services,
            invitations=services.invitations,
            mailer=mailer or services.mailer,
            downloads=OneTimeDownloads(services.clock),
        )


def assistant_state(request: Request) -> AssistantState:
    return cast(AssistantState, request.app.state.assistant)
