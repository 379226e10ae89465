"""scale indexes: the audit log's filters, keyset pagination of every list, pruning

Each list pages by a key (``WHERE key > :cursor ORDER BY key LIMIT n``): the indexes end
with that key, so a page costs the same on the ten-millionth row as on the first. The
audit log gets one index per filter (organization, organization+action,
organization+actor, address, device); the organization-only index it replaces was a
prefix of the new one. ``at``/``expires_at`` indexes serve the background pruning.

Create Date: 2026-12-03 10:40:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_mail_services_organization_id_domain", "mail_services", ("organization_id", "domain")),
    ("ix_devices_address_id_id", "devices", ("address_id", "id")),
    ("ix_devices_user_account_id", "devices", ("user_account_id",)),
    ("ix_device_changes_at", "device_changes", ("at",)),
    ("ix_invitations_address_id_id", "invitations", ("address_id", "id")),
    ("ix_invitations_expires_at", "invitations", ("expires_at",)),
    ("ix_audit_events_organization_id_id", "audit_events", ("organization_id", "id")),
    (
        "ix_audit_events_organization_id_action_id",
        "audit_events",
        ("organization_id", "action", "id"),
    ),
    (
        "ix_audit_events_organization_id_actor_id",
        "audit_events",
        ("organization_id", "actor", "id"),
    ),
    ("ix_audit_events_address_id_id", "audit_events", ("address_id", "id")),
    ("ix_audit_events_device_id_id", "audit_events", ("device_id", "id")),
    ("ix_web_sessions_expires_at", "web_sessions", ("expires_at",)),
    ("ix_api_tokens_account_id_id", "api_tokens", ("account_id", "id")),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))
    op.drop_index("ix_audit_events_organization_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_organization_id", "audit_events", ["organization_id"])
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
