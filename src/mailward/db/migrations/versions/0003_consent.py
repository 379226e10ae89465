"""consent: memberships and address users are pending until accepted; email proofs

Offers of a role or of an address's use live in ``grants`` until the person accepts;
only then is a ``memberships`` / ``address_users`` row written. Existing memberships
and address users therefore count as accepted without any change. ``email_proofs``
keeps the keyed hashes of the one-time codes that prove control of an email address.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailward.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(nullable: bool, name: str) -> sa.Column[object]:
    return sa.Column(name, mailward.db.base.UTCDateTime(timezone=True), nullable=nullable)


def _account(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"], ["accounts.id"], name=op.f(f"fk_{name}_account_id_accounts"),
        ondelete="CASCADE",
    )  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("address_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("offered_by", sa.String(length=320), nullable=False),
        _when(False, "offered_at"),
        _when(True, "answered_at"),
        _account("grants"),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["addresses.id"],
            name=op.f("fk_grants_address_id_addresses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_grants_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    op.create_index("ix_grants_account_id_state", "grants", ["account_id", "state"])
    op.create_index(op.f("ix_grants_organization_id"), "grants", ["organization_id"])
    op.create_table(
        "email_proofs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        _when(False, "created_at"),
        _when(False, "expires_at"),
        _when(True, "used_at"),
        _account("email_proofs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_proofs")),
    )
    op.create_index(op.f("ix_email_proofs_account_id"), "email_proofs", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_proofs_account_id"), table_name="email_proofs")
    op.drop_table("email_proofs")
    op.drop_index(op.f("ix_grants_organization_id"), table_name="grants")
    op.drop_index("ix_grants_account_id_state", table_name="grants")
    op.drop_table("grants")
