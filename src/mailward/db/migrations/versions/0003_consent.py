"""consent: memberships and address users are pending until accepted; email proofs

Offers of a role or of an address's use live in ``grants`` until the person accepts;
only then is a ``memberships`` / ``address_users`` row written. Existing memberships
and address users therefore count as accepted without any change. ``email_proofs``
keeps the keyed hashes of the one-time codes that prove control of an email address.

Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    col.create_table(
        "grants",
        col.integer("account_id"),
        col.integer("organization_id"),
        col.integer("address_id", nullable=True),
        col.string("role", 40, nullable=True),
        col.string("state", 20),
        col.string("offered_by", 320),
        col.when("offered_at"),
        col.when("answered_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.foreign_key("address_id", "addresses"),
        col.foreign_key("organization_id", "organizations"),
    )
    op.create_index("ix_grants_account_id_state", "grants", ["account_id", "state"])
    op.create_index(op.f("ix_grants_organization_id"), "grants", ["organization_id"])
    col.create_table(
        "email_proofs",
        col.integer("account_id"),
        col.binary("code_hash", 32),
        col.string("key_id", 40),
        col.when("created_at"),
        col.when("expires_at"),
        col.when("used_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
    )
    op.create_index(op.f("ix_email_proofs_account_id"), "email_proofs", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_proofs_account_id"), table_name="email_proofs")
    op.drop_table("email_proofs")
    op.drop_index(op.f("ix_grants_organization_id"), table_name="grants")
    op.drop_index("ix_grants_account_id_state", table_name="grants")
    op.drop_table("grants")
