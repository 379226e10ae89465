"""Signing in to the web manager: password, then second factor, with rate limits
checked before any password hash is computed."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailward.clock import Clock
from mailward.core.accounts import AccountService, AccountView
from mailward.core.actors import Actor
from mailward.core.audit import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.errors import MailwardError

WINDOW = timedelta(minutes=15)


class TooManyAttempts(MailwardError):
    code = "too-many-attempts"

    def __init__(self, retry_after: float) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(f"too many failed attempts; try again in about {minutes} minute(s)")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    name: str
    failures: int


EMAIL_LIMIT = Limit("email.signin", 5)
IP_LIMIT = Limit("ip.signin", 20)
SECOND_FACTOR_LIMIT = Limit("account.second_factor", 5)


class FailureWindow:
    """Failures per key within a sliding window, in memory (one process)."""

    def __init__(self, clock: Clock, window: timedelta = WINDOW) -> None:
        self.clock = clock
        self.window = window
        self._failures: dict[tuple[str, str], deque[datetime]] = {}

    def _recent(self, limit: Limit, key: str) -> deque[datetime]:
        times = self._failures.setdefault((limit.name, key), deque())
        cutoff = self.clock.now() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def check(self, limit: Limit, key: str) -> None:
        times = self._recent(limit, key)
        if len(times) >= limit.failures:
            retry = (times[0] + self.window - self.clock.now()).total_seconds()
            raise TooManyAttempts(max(retry, 1.0))

    def fail(self, limit: Limit, key: str) -> None:
        self._recent(limit, key).append(self.clock.now())

    def clear(self, limit: Limit, key: str) -> None:
        self._failures.pop((limit.name, key), None)


class SignInService:
    def __init__(self, deps: CoreDeps, accounts: AccountService) -> None:
        self.deps = deps
        self.accounts = accounts
        self.limits = FailureWindow(deps.clock)

    async def check_password(self, email: str, password: str, ip: str) -> AccountView | None:
        """The account if the password is right. Raises :class:`TooManyAttempts` before
        hashing when the email or the client IP failed too often."""
        email_key = email.strip().lower()
        self.limits.check(IP_LIMIT, ip)
        self.limits.check(EMAIL_LIMIT, email_key)
        account = await self.accounts.verify_password(email, password)
        if account is None:
            self.limits.fail(IP_LIMIT, ip)
            self.limits.fail(EMAIL_LIMIT, email_key)
            await self._audit(Actor(None, email_key[:320], ip), AuditTag.ACCOUNT_LOGIN_FAILURE)
            return None
        self.limits.clear(EMAIL_LIMIT, email_key)
        return account

    def check_second_factor_allowed(self, account_id: int) -> None:
        self.limits.check(SECOND_FACTOR_LIMIT, str(account_id))

    def second_factor_failed(self, account_id: int) -> None:
        self.limits.fail(SECOND_FACTOR_LIMIT, str(account_id))

    async def signed_in(self, account: AccountView, ip: str) -> None:
        self.limits.clear(SECOND_FACTOR_LIMIT, str(account.id))
        await self._audit(Actor(account.id, account.email, ip), AuditTag.ACCOUNT_LOGIN)

    async def _audit(self, actor: Actor, tag: AuditTag) -> None:
        async with self.deps.db.unit_of_work() as uow:
            target = AuditTarget(label=actor.label)
            record(uow.session, actor, tag, target, self.deps.clock.now())
