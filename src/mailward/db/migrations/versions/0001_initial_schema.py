"""initial schema

Create Date: 2026-11-24 22:28:27.276415
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0001"
down_revision: str | None = None


def _accounts_and_organizations() -> None:
    col.create_table(
        "accounts",
        col.string("email", 320),
        col.string("display_name", 200),
        col.string("password_hash", 200, nullable=True),
        col.string("totp_secret_sealed", 200, nullable=True),
        col.when("totp_enabled_at", nullable=True),
        col.string("status", 20),
        col.when("created_at"),
        col.unique("email"),
    )
    col.create_table(
        "audit_events",
        col.when("at"),
        col.integer("actor_account_id", nullable=True),
        col.string("actor", 320),
        col.string("actor_ip", 64, nullable=True),
        col.integer("organization_id", nullable=True),
        col.string("action", 60),
        col.integer("address_id", nullable=True),
        col.integer("device_id", nullable=True),
        col.string("target", 400),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_organization_id"), "audit_events", ["organization_id"])
    op.create_table(
        "device_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        col.integer("device_id"),
        col.integer("address_id"),
        col.string("kind", 30),
        col.when("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_changes")),
    )
    col.create_table(
        "organizations",
        col.string("name", 200),
        col.when("created_at"),
        col.unique("name"),
    )


def _memberships_and_sessions() -> None:
    col.create_table(
        "api_tokens",
        col.integer("account_id"),
        col.integer("organization_id"),
        col.string("name", 120),
        col.string("prefix", 40),
        col.binary("token_hash", 32),
        col.when("created_at"),
        col.when("expires_at", nullable=True),
        col.when("last_used_at", nullable=True),
        col.when("revoked_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.foreign_key("organization_id", "organizations"),
        col.unique("token_hash"),
    )
    col.create_table(
        "mail_services",
        col.integer("organization_id"),
        col.string("domain", 255),
        col.when("created_at"),
        col.foreign_key("organization_id", "organizations"),
        col.unique("domain"),
    )
    op.create_index(op.f("ix_mail_services_organization_id"), "mail_services", ["organization_id"])
    col.create_table(
        "memberships",
        col.integer("account_id"),
        col.integer("organization_id"),
        col.string("role", 40),
        col.foreign_key("account_id", "accounts"),
        col.foreign_key("organization_id", "organizations"),
        col.unique("account_id", "organization_id"),
    )
    op.create_index(op.f("ix_memberships_organization_id"), "memberships", ["organization_id"])
    col.create_table(
        "recovery_codes",
        col.integer("account_id"),
        col.binary("code_hash", 32),
        col.when("used_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.unique("code_hash"),
    )
    col.create_table(
        "web_sessions",
        col.binary("token_hash", 32),
        col.integer("account_id"),
        sa.Column("second_factor_done", sa.Boolean(), nullable=False),
        col.when("created_at"),
        col.when("last_seen_at"),
        col.when("expires_at"),
        col.when("sudo_until", nullable=True),
        col.string("ip", 64, nullable=True),
        col.string("user_agent", 300),
        col.when("revoked_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.unique("token_hash"),
    )


def _addresses() -> None:
    col.create_table(
        "addresses",
        col.integer("mail_service_id"),
        col.string("local_part", 64),
        col.string("display_name", 200),
        col.when("created_at"),
        col.foreign_key("mail_service_id", "mail_services"),
        col.unique("mail_service_id", "local_part"),
    )
    col.create_table(
        "address_users",
        col.integer("address_id"),
        col.integer("account_id"),
        col.when("created_at"),
        col.foreign_key("account_id", "accounts"),
        col.foreign_key("address_id", "addresses"),
        col.unique("address_id", "account_id"),
    )


def _devices() -> None:
    col.create_table(
        "devices",
        col.integer("address_id"),
        col.string("name", 120),
        col.integer("user_account_id", nullable=True),
        col.string("password_kind", 20),
        col.binary("password_lookup", 32, nullable=True),
        col.string("password_key_id", 40, nullable=True),
        col.string("password_hash", 200, nullable=True),
        col.string("created_by", 320),
        col.when("created_at"),
        col.when("password_changed_at"),
        col.when("last_used_at", nullable=True),
        col.string("last_used_ip", 64, nullable=True),
        col.string("last_used_protocol", 10, nullable=True),
        col.string("last_used_client", 200, nullable=True),
        col.when("expires_at", nullable=True),
        col.string("allowed_protocols", 40),
        sa.Column("allowed_networks", sa.Text(), nullable=False),
        col.when("revoked_at", nullable=True),
        col.string("revoked_by", 320, nullable=True),
        col.foreign_key("address_id", "addresses"),
        col.foreign_key("user_account_id", "accounts", ondelete="SET NULL"),
        col.unique("password_lookup"),
    )
    op.create_index("ix_devices_address_id_revoked_at", "devices", ["address_id", "revoked_at"])
    col.create_table(
        "invitations",
        col.integer("address_id"),
        col.integer("account_id", nullable=True),
        col.string("email", 320),
        col.string("device_name", 120),
        col.binary("token_hash", 32),
        col.string("created_by", 320),
        col.when("created_at"),
        col.when("expires_at"),
        col.when("used_at", nullable=True),
        col.when("cancelled_at", nullable=True),
        col.integer("device_id", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.foreign_key("address_id", "addresses"),
        col.foreign_key("device_id", "devices", ondelete="SET NULL"),
        col.unique("token_hash"),
    )


def upgrade() -> None:
    _accounts_and_organizations()
    _memberships_and_sessions()
    _addresses()
    _devices()


def downgrade() -> None:
    op.drop_table("invitations")
    op.drop_index("ix_devices_address_id_revoked_at", table_name="devices")
    for table in ("devices", "address_users", "addresses", "web_sessions", "recovery_codes"):
        op.drop_table(table)
    op.drop_index(op.f("ix_memberships_organization_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_mail_services_organization_id"), table_name="mail_services")
    for table in ("mail_services", "api_tokens", "organizations", "device_changes"):
        op.drop_table(table)
    op.drop_index(op.f("ix_audit_events_organization_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("accounts")
