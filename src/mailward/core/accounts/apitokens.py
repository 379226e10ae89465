"""Personal API tokens: an account's bearer credentials for ``/api/v1``.

A token is ``mwt_`` followed by 256 random bits, so a leaked one is recognisable (secret
scanners can match the prefix). It exists in clear only in the :class:`IssuedApiToken`
returned by :meth:`ApiTokenService.create`; the database keeps its keyed hash under the
server key ring. A token acts as its account, confined to the one organization it was
made for, with the account's role there: it grants nothing the person lacks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_member
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.names import clean_name
from mailward.core.pages import Page, PageRequest, id_key, keyset_page
from mailward.db.models import Account, ApiToken, Membership
from mailward.errors import InvalidInput, MailwardError, NotFound

TOKEN_PREFIX = "mwt_"
TOKEN_PURPOSE = "api-token"
TOKEN_RANDOM_BYTES = 32
SHOWN_PREFIX_CHARS = 6
MAX_TOKEN_LENGTH = 200
# Last use is written at most this often per token: no database write per request.
LAST_USED_EVERY = timedelta(minutes=1)


class InvalidApiToken(MailwardError):
    """Missing, unknown, revoked or expired; the reason is not told to the caller."""

    code = "invalid-token"

    def __init__(self) -> None:
        super().__init__("a valid API token is required (Authorization: Bearer mwt_...)")


@dataclass(frozen=True)
class ApiTokenView:
    """Everything about a token but its secret."""

    id: int
    organization_id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str


@dataclass(frozen=True)
class IssuedApiToken:
    """The one value that carries the token in clear."""

    token: ApiTokenView
    secret: str = field(repr=False)


@dataclass(frozen=True)
class TokenGrant:
    """Who a presented token acts as."""

    token_id: int
    account_id: int
    email: str
    organization_id: int

    def actor(self, ip: str | None) -> Actor:
        return Actor(self.account_id, self.email, ip, organization_id=self.organization_id)


def token_status(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def token_view(token: ApiToken, now: datetime) -> ApiTokenView:
    return ApiTokenView(
        id=token.id,
        organization_id=token.organization_id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        status=token_status(token, now),
    )


async def revoke_all_tokens(session: AsyncSession, actor: Actor, now: datetime) -> int:
    """Revoke every live token of the actor's account (audited, one entry a token);
    returns how many. Used by "sign out everywhere"."""
    tokens = await session.scalars(
        select(ApiToken).where(
            ApiToken.account_id == actor.account_id, ApiToken.revoked_at.is_(None)
        )
    )
    revoked = 0
    for token in tokens:
        token.revoked_at = now
        target = AuditTarget(token.organization_id, label=f"API token {token.name!r}")
        details = {"token_id": token.id, "prefix": token.prefix, "why": "signed out everywhere"}
        record(session, actor, AuditTag.API_TOKEN_REVOKE, target, now, **details)
        revoked += 1
    return revoked


def _owned(actor: Actor, organization_id: int | None) -> Select[ApiToken]:
    """The actor's own tokens, in one organization when given or when the actor is
    confined to one."""
    scope = actor.organization_id or organization_id
    query = select(ApiToken).where(ApiToken.account_id == actor.account_id)
    if scope is not None:
        query = query.where(ApiToken.organization_id == scope)
    return query


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) <= MAX_TOKEN_LENGTH


class ApiTokenService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    def _hashes(self, secret: str) -> list[bytes]:
        keys = self.deps.keys
        return [keys.mac(TOKEN_PURPOSE, secret.encode(), key_id=k) for k in keys.keys]

    async def create(
        self,
        actor: Actor,
        organization_id: int,
        name: str,
        expires_at: datetime | None = None,
    ) -> IssuedApiToken:
        """A new token of the actor's own account, for an organization they belong to."""
        if actor.account_id is None:
            raise InvalidInput("account", "API tokens belong to a person's account")
        name = clean_name(name, "token name", 120)
        now = self.deps.clock.now()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise InvalidInput("expires_at", "must be a future time with a time zone")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
        async with self.deps.db.unit_of_work() as uow:
            await require_member(
                uow.session, actor, organization_id, "organization", organization_id
            )
            token = ApiToken(
                account_id=actor.account_id,
                organization_id=organization_id,
                name=name,
                prefix=secret[: len(TOKEN_PREFIX) + SHOWN_PREFIX_CHARS],
                token_hash=self.deps.keys.mac(TOKEN_PURPOSE, secret.encode()),
                created_at=now,
                expires_at=expires_at,
            )
            uow.session.add(token)
            await uow.session.flush()
            target = AuditTarget(organization_id=organization_id, label=f"API token {name!r}")
            details = {"token_id": token.id, "prefix": token.prefix}
            when = expires_at.isoformat() if expires_at else None
            record(
                uow.session,
                actor,
                AuditTag.API_TOKEN_CREATE,
                target,
                now,
                **details,
                expires_at=when,
            )
            return IssuedApiToken(token_view(token, now), secret)

    async def list(self, actor: Actor, organization_id: int | None = None) -> list[ApiTokenView]:
        """The actor's own tokens, newest first (one organization's, when given or when
        the actor is confined to one)."""
        async with self.deps.db.unit_of_work() as uow:
            query = _owned(actor, organization_id).order_by(ApiToken.id.desc())
            rows = await uow.session.scalars(query)
            now = self.deps.clock.now()
            return [token_view(t, now) for t in rows]

    async def page(
        self, actor: Actor, request: PageRequest, organization_id: int | None = None
    ) -> Page[ApiTokenView]:
        """The tokens of :meth:`list`, one keyset page at a time."""
        async with self.deps.db.unit_of_work() as uow:
            query = _owned(actor, organization_id)
            rows = await keyset_page(
                uow.session, query, [ApiToken.id], id_key, request, descending=True
            )
            now = self.deps.clock.now()
            return rows.map(lambda row: token_view(row[0], now))

    async def revoke(self, actor: Actor, token_id: int) -> ApiTokenView:
        """Revoke one of the actor's own tokens; revoking twice is not an error."""
        async with self.deps.db.unit_of_work() as uow:
            token = await self._own(uow.session, actor, token_id)
            now = self.deps.clock.now()
            if token.revoked_at is None:
                token.revoked_at = now
                target = AuditTarget(token.organization_id, label=f"API token {token.name!r}")
                details = {"token_id": token.id, "prefix": token.prefix}
                record(uow.session, actor, AuditTag.API_TOKEN_REVOKE, target, now, **details)
            return token_view(token, now)

    async def authenticate(self, secret: str) -> TokenGrant:
        """The grant of a presented token. Raises :class:`InvalidApiToken` when it is
        unknown, revoked, expired, or its account left the organization or is inactive."""
        if not looks_like_token(secret):
            raise InvalidApiToken()
        async with self.deps.db.unit_of_work() as uow:
            found = (
                await uow.session.execute(
                    select(ApiToken, Account)
                    .join(Account, Account.id == ApiToken.account_id)
                    .where(ApiToken.token_hash.in_(self._hashes(secret)))
                )
            ).first()
            if found is None:
                raise InvalidApiToken()
            token, account = found
            now = self.deps.clock.now()
            if token_status(token, now) != "active" or account.status != "active":
                raise InvalidApiToken()
            if not await self._still_member(uow.session, token):
                raise InvalidApiToken()
            await self._touch(uow.session, token, now)
            return TokenGrant(token.id, account.id, account.email, token.organization_id)

    @staticmethod
    async def _still_member(session: AsyncSession, token: ApiToken) -> bool:
        found = await session.scalar(
            select(Membership.id).where(
                Membership.account_id == token.account_id,
                Membership.organization_id == token.organization_id,
            )
        )
        return found is not None

    @staticmethod
    async def _touch(session: AsyncSession, token: ApiToken, now: datetime) -> None:
        if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
            return
        await session.execute(
            update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
        )

    @staticmethod
    async def _own(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
        token = await session.get(ApiToken, token_id)
        foreign_scope = (
            token is not None
            and actor.organization_id is not None
            and token.organization_id != actor.organization_id
        )
        if token is None or token.account_id != actor.account_id or foreign_scope:
            raise NotFound("API token", token_id)
        return token
