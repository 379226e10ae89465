"""Jinja filters: how times, roles and statuses read on a page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# How each audit action reads in the manager (the code stays in the CLI and the API).
ACTION_NAMES = {
    "account:create": "Account created",
    "account:password_change": "Account password changed",
    "account:login": "Signed in",
    "account:login_failure": "Sign-in refused",
    "account:totp_enable": "Two-factor authentication turned on",
    "account:passkey_add": "Passkey added",
    "account:passkey_remove": "Passkey removed",
    "account:passkey_cloned": "Passkey refused (it looks copied)",
    "account:email_proof": "Email address proved",
    "organization:create": "Organization created",
    "member:add": "Member added",
    "member:role_change": "Member's role changed",
    "member:remove": "Member removed",
    "mail_service:create": "Mail Service created",
    "mail_service:claim": "Domain claimed",
    "mail_service:verify": "Domain verified",
    "mail_service:verify_failure": "Domain check failed",
    "mail_service:claim_removed": "Domain claim removed",
    "address:create": "Address created",
    "address:move": "Mailbox moved to another backend",
    "address_user:add": "User of an address added",
    "address_user:remove": "User of an address removed",
    "device:add": "Device added",
    "device:rename": "Device renamed",
    "device:password_change": "Device password changed",
    "device:options_change": "Device access options changed",
    "device:revoke": "Device revoked",
    "device:login_refused": "Device login refused",
    "device:unused_notice": "Unused device: notice sent",
    "device:keep": "Unused device kept",
    "device:expire_unused": "Unused device revoked by the policy",
    "device:new_network": "New network: notice sent",
    "organization:policy_change": "Device policy changed",
    "organization:unused_digest": "Unused devices: weekly digest sent",
    "invitation:create": "Setup assistant sent",
    "invitation:use": "Setup assistant used",
    "invitation:cancel": "Setup assistant cancelled",
    "api_token:create": "API token created",
    "api_token:revoke": "API token revoked",
    "grant:offer": "Role or address offered",
    "grant:accept": "Offer accepted",
    "grant:decline": "Offer declined",
    "grant:withdraw": "Offer withdrawn",
    "notice:not_sent": "Security notice not sent",
}

ROLE_NAMES = {
    "legal_representative": "Legal representative",
    "administrator": "Administrator",
    "user": "User",
}


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def sentence(error: object) -> str:
    """An error's text as the start of a sentence: only the first letter is raised, so
    the names it quotes keep their case (``str.capitalize`` lowers the rest)."""
    text = str(error)
    return text[:1].upper() + text[1:]


def role_name(value: str) -> str:
    return ROLE_NAMES.get(value, value)


def action_name(value: str) -> str:
    """An audit action as a phrase: ``device:add`` reads "Device added"."""
    return ACTION_NAMES.get(value, value)


def is_account_action(value: str) -> bool:
    """Sign-ins and account changes belong to a person, not to an organization: an
    organization's audit log never holds them (the operator's ``mailward audit list`` does)."""
    return value.startswith("account:")


def details(values: dict[str, Any]) -> str:
    """An event's details as "key: value; key: value", leaving out empty ones."""
    return "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in values.items() if v is not None)


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "day": day,
    "role_name": role_name,
    "action_name": action_name,
    "details": details,
}
