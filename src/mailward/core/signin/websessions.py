"""Server-side sessions of the web manager: revocable, listed, never stored in clear.

The browser holds a random token; the database holds its keyed hash. A session is
*pending* after the password step and *complete* after the second factor; completing
sign-in issues a new token, so a cookie obtained before sign-in is worthless after it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import revoke_all_tokens
from mailward.core.deps import CoreDeps
from mailward.core.rows import view_of
from mailward.db.models import Account, WebSession

SESSION_PURPOSE = "web-session"
PENDING_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class WebSessionView:
    id: int
    account_id: int
    email: str
    display_name: str
    second_factor_done: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    sudo_until: datetime | None
    ip: str | None
    user_agent: str

    def in_sudo(self, now: datetime) -> bool:
        return self.sudo_until is not None and now < self.sudo_until


@dataclass(frozen=True)
class IssuedSession:
    """A new session and its token: the token exists in clear only here."""

    session: WebSessionView
    token: str = field(repr=False)


def _view(row: WebSession, account: Account) -> WebSessionView:
    return view_of(WebSessionView, row, email=account.email, display_name=account.display_name)


class WebSessionService:
    def __init__(self, deps: CoreDeps, sudo_minutes: int) -> None:
        self.deps = deps
        self.sudo_window = timedelta(minutes=sudo_minutes)

    def _hashes(self, token: str) -> list[bytes]:
        keys = self.deps.keys
        return [keys.mac(SESSION_PURPOSE, token.encode(), key_id=k) for k in keys.keys]

    async def start(
        self, account_id: int, complete: bool, ip: str | None, user_agent: str
    ) -> IssuedSession:
        """A new session. A complete one starts in sudo mode: the password was just typed."""
        token = secrets.token_urlsafe(32)
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            account = await uow.session.get(Account, account_id)
            if account is None:
                raise LookupError("account vanished while signing in")
            row = WebSession(
                token_hash=self.deps.keys.mac(SESSION_PURPOSE, token.encode()),
                account_id=account_id,
                second_factor_done=complete,
                created_at=now,
                last_seen_at=now,
                expires_at=now + (SESSION_LIFETIME if complete else PENDING_LIFETIME),
                sudo_until=now + self.sudo_window if complete else None,
                ip=ip,
                user_agent=user_agent[:300],
            )
            uow.session.add(row)
            await uow.session.flush()
            return IssuedSession(_view(row, account), token)

    async def find(self, token: str) -> WebSessionView | None:
        """The live session behind a token, or None (unknown, ended, expired)."""
        if not token or len(token) > 200:
            return None
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            found = (
                await uow.session.execute(
                    select(WebSession, Account)
                    .join(Account, Account.id == WebSession.account_id)
                    .where(WebSession.token_hash.in_(self._hashes(token)))
                )
            ).first()
            if found is None:
                return None
            row, account = found
            if row.revoked_at is not None or row.expires_at <= now or account.status != "active":
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at = now
            return _view(row, account)

    async def end(self, session_id: int) -> None:
        await self._revoke(WebSession.id == session_id)

    async def end_for(self, account_id: int, session_id: int) -> None:
        """End one of the account's own sessions (another's id does nothing)."""
        await self._revoke((WebSession.id == session_id) & (WebSession.account_id == account_id))

    async def end_all(self, account_id: int, ip: str | None = None) -> int:
        """Sign out everywhere: every web session of the account ends and its personal
        API tokens are revoked with them (a token made by whoever held a session must
        not outlive it). Returns how many tokens were revoked."""
        await self._revoke(WebSession.account_id == account_id)
        async with self.deps.db.unit_of_work() as uow:
            account = await uow.session.get(Account, account_id)
            if account is None:
                return 0
            actor = Actor(account.id, account.email, ip)
            return await revoke_all_tokens(uow.session, actor, self.deps.clock.now())

    async def _revoke(self, condition: ColumnElement[bool]) -> None:
        async with self.deps.db.unit_of_work() as uow:
            await uow.session.execute(
                update(WebSession)
                .where(condition, WebSession.revoked_at.is_(None))
                .values(revoked_at=self.deps.clock.now())
            )

    async def list_for(self, account_id: int) -> list[WebSessionView]:
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(WebSession, Account)
                .join(Account, Account.id == WebSession.account_id)
                .where(
                    WebSession.account_id == account_id,
                    WebSession.revoked_at.is_(None),
                    WebSession.second_factor_done.is_(True),
                    WebSession.expires_at > now,
                )
                .order_by(WebSession.last_seen_at.desc())
            )
            return [_view(row, account) for row, account in rows]

    async def grant_sudo(self, session_id: int) -> None:
        """The password was typed again: sensitive pages open for the sudo window."""
        async with self.deps.db.unit_of_work() as uow:
            row = await uow.session.get(WebSession, session_id)
            if row is not None:
                row.sudo_until = self.deps.clock.now() + self.sudo_window
