"""The audit log: an append-only table of ``subject:action`` events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.db.models import AuditEvent


class AuditTag(StrEnum):
    ACCOUNT_CREATE = "account:create"
    ACCOUNT_PASSWORD_CHANGE = "account:password_change"
    ACCOUNT_LOGIN = "account:login"
    ACCOUNT_LOGIN_FAILURE = "account:login_failure"
    ACCOUNT_TOTP_ENABLE = "account:totp_enable"
    ACCOUNT_PASSKEY_ADD = "account:passkey_add"
    ACCOUNT_PASSKEY_REMOVE = "account:passkey_remove"
    ACCOUNT_PASSKEY_CLONED = "account:passkey_cloned"
    ORGANIZATION_CREATE = "organization:create"
    MEMBER_ADD = "member:add"
    MEMBER_ROLE_CHANGE = "member:role_change"
    MEMBER_REMOVE = "member:remove"
    MAIL_SERVICE_CREATE = "mail_service:create"
    MAIL_SERVICE_CLAIM = "mail_service:claim"
    MAIL_SERVICE_VERIFY = "mail_service:verify"
    MAIL_SERVICE_VERIFY_FAILURE = "mail_service:verify_failure"
    MAIL_SERVICE_CLAIM_REMOVED = "mail_service:claim_removed"
    ADDRESS_CREATE = "address:create"
    ADDRESS_MOVE = "address:move"
    ADDRESS_USER_ADD = "address_user:add"
    ADDRESS_USER_REMOVE = "address_user:remove"
    DEVICE_ADD = "device:add"
    DEVICE_RENAME = "device:rename"
    DEVICE_PASSWORD_CHANGE = "device:password_change"
    DEVICE_OPTIONS_CHANGE = "device:options_change"
    DEVICE_REVOKE = "device:revoke"
    DEVICE_LOGIN_REFUSED = "device:login_refused"
    DEVICE_UNUSED_NOTICE = "device:unused_notice"
    DEVICE_KEEP = "device:keep"
    DEVICE_EXPIRE_UNUSED = "device:expire_unused"
    DEVICE_NEW_NETWORK = "device:new_network"
    ORGANIZATION_POLICY_CHANGE = "organization:policy_change"
    ORGANIZATION_UNUSED_DIGEST = "organization:unused_digest"
    INVITATION_CREATE = "invitation:create"
    INVITATION_USE = "invitation:use"
    INVITATION_CANCEL = "invitation:cancel"
    API_TOKEN_CREATE = "api_token:create"
    API_TOKEN_REVOKE = "api_token:revoke"
    GRANT_OFFER = "grant:offer"
    GRANT_ACCEPT = "grant:accept"
    GRANT_DECLINE = "grant:decline"
    GRANT_WITHDRAW = "grant:withdraw"
    ACCOUNT_EMAIL_PROOF = "account:email_proof"
    NOTICE_NOT_SENT = "notice:not_sent"


@dataclass(frozen=True)
class AuditTarget:
    organization_id: int | None = None
    address_id: int | None = None
    device_id: int | None = None
    label: str = ""


def record(
    session: AsyncSession,
    actor: Actor,
    tag: AuditTag,
    target: AuditTarget,
    at: datetime,
    **details: Any,
) -> None:
    """Add an event to the session's transaction. ``details`` must hold no secret."""
    session.add(
        AuditEvent(
            at=at,
            actor_account_id=actor.account_id,
            actor=actor.label,
            actor_ip=actor.ip,
            organization_id=target.organization_id,
            action=str(tag),
            address_id=target.address_id,
            device_id=target.device_id,
            target=target.label,
            details=details,
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    organization_id: int | None = None
    address_id: int | None = None
    device_id: int | None = None
    actor: str | None = None
    action: str | None = None
    limit: int = 100
    cursor: str | None = None


def audit_query(f: AuditFilter) -> Select[AuditEvent]:
    """The filtered events, unordered: each filter has an index ending with the id the
    log pages by (newest first)."""
    query = select(AuditEvent)
    if f.organization_id is not None:
        query = query.where(AuditEvent.organization_id == f.organization_id)
    if f.address_id is not None:
        query = query.where(AuditEvent.address_id == f.address_id)
    if f.device_id is not None:
        query = query.where(AuditEvent.device_id == f.device_id)
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    return query


@dataclass(frozen=True)
class AuditEventView:
    id: int
    at: datetime
    actor: str
    actor_ip: str | None
    organization_id: int | None
    action: str
    address_id: int | None
    device_id: int | None
    target: str
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventView:
        return cls(
            event.id,
            event.at,
            event.actor,
            event.actor_ip,
            event.organization_id,
            event.action,
            event.address_id,
            event.device_id,
            event.target,
            dict(event.details or {}),
        )
