"""Checking pending domains: on request ("Check now", API, CLI) and in the background.

A check looks the claim's TXT record up outside any transaction (DNS may be slow; the
lookup has its own time limit), then records the outcome. The background pass takes at
most ``per_pass`` due domains, oldest due first; each failure doubles the wait before
that domain's next check (at most a day), so a dead zone costs little.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.mailservices.dkim_keys import ensure_first_keys
from mailward.core.mailservices.domainproof import (
    CheckOutcome,
    TxtAnswer,
    TxtLookup,
    judge,
    next_check,
    record_name,
)
from mailward.core.mailservices.service import (
    DomainTaken,
    MailServiceView,
    get_mail_service,
    mail_service_view,
    remove_rival_claims,
)
from mailward.db.models import MailService
from mailward.errors import NotFound

SCHEDULED = Actor(account_id=None, label="scheduled domain check")


class DomainChecks:
    def __init__(
        self,
        deps: CoreDeps,
        lookup: TxtLookup,
        interval_seconds: float = 300.0,
        per_pass: int = 20,
    ) -> None:
        self.deps = deps
        self.lookup = lookup
        self.interval_seconds = interval_seconds
        self.per_pass = per_pass
        self._in_flight: dict[int, asyncio.Future[TxtAnswer]] = {}

    async def check(self, actor: Actor, key: int | str) -> MailServiceView:
        """Look the domain's record up now; a verified Mail Service is returned as is.
        Checks of one claim asked for while its lookup runs share that lookup: pressing
        "Check now" many times costs one DNS query at a time."""
        async with self.deps.db.unit_of_work() as uow:
            mail_service = await get_mail_service(uow.session, actor, key)
            await require_manager(
                uow.session, actor, mail_service.organization_id, "verify a domain"
            )
            if mail_service.verified_at is not None or not mail_service.verification_token:
                return await mail_service_view(uow.session, mail_service)
            mail_service_id, domain = mail_service.id, mail_service.domain
        answer = await self._lookup_once(mail_service_id, domain)
        return await self._settle(actor, mail_service_id, answer)

    async def _lookup_once(self, mail_service_id: int, domain: str) -> TxtAnswer:
        running = self._in_flight.get(mail_service_id)
        if running is None:
            running = asyncio.ensure_future(self.lookup.txt(record_name(domain)))
            self._in_flight[mail_service_id] = running
            running.add_done_callback(lambda _: self._in_flight.pop(mail_service_id, None))
        return await asyncio.shield(running)

    async def check_due(self) -> int:
        """One background pass; returns how many domains were looked at."""
        async with self.deps.db.unit_of_work() as uow:
            due = list(
                await uow.session.execute(
                    select(MailService.id, MailService.domain)
                    .where(
                        MailService.verified_at.is_(None),
                        MailService.verification_token.is_not(None),
                        or_(
                            MailService.next_check_at.is_(None),
                            MailService.next_check_at <= self.deps.clock.now(),
                        ),
                    )
                    .order_by(MailService.next_check_at, MailService.id)
                    .limit(self.per_pass)
                )
            )
        answers = await asyncio.gather(*(self.lookup.txt(record_name(d)) for _, d in due))
        for (mail_service_id, _), answer in zip(due, answers, strict=True):
            try:
                await self._settle(SCHEDULED, mail_service_id, answer)
            except (NotFound, DomainTaken):
                continue  # removed meanwhile: another organization verified the domain
        return len(due)

    async def _settle(
        self, actor: Actor, mail_service_id: int, answer: TxtAnswer
    ) -> MailServiceView:
        domain = str(mail_service_id)
        try:
            async with self.deps.db.unit_of_work() as uow:
                mail_service = await uow.session.get(MailService, mail_service_id)
                if mail_service is None:
                    raise NotFound("mail service", mail_service_id)
                domain = mail_service.domain
                if mail_service.verified_at is None and mail_service.verification_token:
                    token = mail_service.verification_token
                    outcome = judge(answer, mail_service.domain, token)
                    await self._record(uow.session, actor, mail_service, outcome)
                return await mail_service_view(uow.session, mail_service)
        except IntegrityError as exc:  # another organization was verified at the same moment
            raise DomainTaken(domain) from exc

    async def _record(
        self, session: AsyncSession, actor: Actor, mail_service: MailService, outcome: CheckOutcome
    ) -> None:
        now = self.deps.clock.now()
        target = AuditTarget(
            organization_id=mail_service.organization_id, label=mail_service.domain
        )
        mail_service.checked_at = now
        if outcome.verified:
            mail_service.verified_at = now
            mail_service.check_message = outcome.message
            mail_service.next_check_at = None
            await session.flush()  # the partial unique index refuses a second verified owner
            await remove_rival_claims(session, mail_service, actor, now)
            await ensure_first_keys(session, self.deps.keys, mail_service, now)
            record(session, actor, AuditTag.MAIL_SERVICE_VERIFY, target, now)
            return
        changed = mail_service.check_message != outcome.message
        mail_service.check_message = outcome.message
        mail_service.next_check_at = next_check(
            now, self.interval_seconds, mail_service.check_failures
        )
        mail_service.check_failures += 1
        if changed or actor is not SCHEDULED:  # the log is not flooded by a quiet zone
            tag = AuditTag.MAIL_SERVICE_VERIFY_FAILURE
            record(session, actor, tag, target, now, message=outcome.message)
