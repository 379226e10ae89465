"""An organization's policy on devices: how long login history is kept, and after how
many days without a login an unused device gets a notice and is then revoked
(``None`` for both: unused devices never expire)."""

from __future__ import annotations

from dataclasses import dataclass

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.organizations.service import find_organization
from mailward.db.models import Organization
from mailward.errors import InvalidInput

DEFAULT_NOTICE_DAYS = 90
DEFAULT_REVOKE_DAYS = 120
MAX_DAYS = 3650


@dataclass(frozen=True)
class DevicePolicy:
    organization_id: int
    organization: str
    login_history_days: int
    unused_notice_days: int | None
    unused_revoke_days: int | None

    @property
    def expires_unused(self) -> bool:
        return self.unused_notice_days is not None and self.unused_revoke_days is not None


@dataclass(frozen=True)
class PolicyChange:
    """What to change; ``None`` keeps the current value, ``off`` stops expiry."""

    unused_notice_days: int | None = None
    unused_revoke_days: int | None = None
    login_history_days: int | None = None
    off: bool = False


def policy_of(organization: Organization) -> DevicePolicy:
    return DevicePolicy(
        organization.id,
        organization.name,
        organization.login_history_days,
        organization.unused_notice_days,
        organization.unused_revoke_days,
    )


def _days(field: str, value: int) -> int:
    if not 1 <= value <= MAX_DAYS:
        raise InvalidInput(field, f"must be between 1 and {MAX_DAYS} days, not {value}")
    return value


def apply_change(organization: Organization, change: PolicyChange) -> None:
    if change.login_history_days is not None:
        organization.login_history_days = _days("login history", change.login_history_days)
    wants_expiry = change.unused_notice_days is not None or change.unused_revoke_days is not None
    if change.off and wants_expiry:
        raise InvalidInput("policy", "either switch expiry off or give its days, not both")
    if change.off:
        organization.unused_notice_days = organization.unused_revoke_days = None
        return
    if not wants_expiry:
        return
    notice = change.unused_notice_days or organization.unused_notice_days or DEFAULT_NOTICE_DAYS
    revoke = change.unused_revoke_days or organization.unused_revoke_days or DEFAULT_REVOKE_DAYS
    _days("unused notice", notice)
    _days("unused revoke", revoke)
    if revoke <= notice:
        raise InvalidInput(
            "unused revoke",
            f"revoking after {revoke} days must come after the notice at {notice} days",
        )
    organization.unused_notice_days, organization.unused_revoke_days = notice, revoke


class PolicyService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def get(self, actor: Actor, organization_key: str) -> DevicePolicy:
        """Any member may read it (it tells them when their devices expire)."""
        async with self.deps.db.unit_of_work() as uow:
            return policy_of(await find_organization(uow.session, actor, organization_key))

    async def set(self, actor: Actor, organization_key: str, change: PolicyChange) -> DevicePolicy:
        async with self.deps.db.unit_of_work() as uow:
            s = uow.session
            organization = await find_organization(s, actor, organization_key)
            await require_manager(s, actor, organization.id, "change the device policy")
            before = policy_of(organization)
            apply_change(organization, change)
            after = policy_of(organization)
            if after != before:
                target = AuditTarget(organization_id=organization.id, label=organization.name)
                record(
                    s, actor, AuditTag.ORGANIZATION_POLICY_CHANGE, target, self.deps.clock.now(),
                    login_history_days=after.login_history_days,
                    unused_notice_days=after.unused_notice_days,
                    unused_revoke_days=after.unused_revoke_days,
                )  # fmt: skip
            return after
