"""Which domains the discovery documents answer for: every domain with a verified Mail
Service."""

from __future__ import annotations

from sqlalchemy import select

from mailward.core.mailservices.service import VERIFIED_ONLY
from mailward.core.names import normalize_domain
from mailward.db.engine import Database
from mailward.db.models import MailService
from mailward.errors import InvalidInput


async def served_domains(db: Database) -> list[str]:
    async with db.unit_of_work() as uow:
        return list(
            await uow.session.scalars(
                select(MailService.domain).where(VERIFIED_ONLY).order_by("domain")
            )
        )


async def served_domain_of(db: Database, email: str) -> str | None:
    """The Mail Service domain of ``email``, or ``None`` when it is not one of ours."""
    try:
        domain = normalize_domain(email.rpartition("@")[2])
    except InvalidInput:
        return None
    async with db.unit_of_work() as uow:
        found = await uow.session.scalar(
            select(MailService.domain).where(MailService.domain == domain, VERIFIED_ONLY)
        )
    return found
