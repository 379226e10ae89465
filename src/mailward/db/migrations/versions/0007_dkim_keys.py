"""dkim keys: each Mail Service's signing keys, private halves sealed

Existing Mail Services get their first keys lazily, the first time their keys are
asked for (signing, the DNS page, ``mailward dkim``/``dns``): key generation needs the
server key ring, which a migration does not hold.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mailward.db.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_service_id", sa.Integer(), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_service_id"],
            ["mail_services.id"],
            name=op.f("fk_dkim_keys_mail_service_id_mail_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dkim_keys")),
        sa.UniqueConstraint(
            "mail_service_id", "selector", name=op.f("uq_dkim_keys_mail_service_id_selector")
        ),
    )
    op.create_index(
        op.f("ix_dkim_keys_mail_service_id"), "dkim_keys", ["mail_service_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dkim_keys_mail_service_id"), table_name="dkim_keys")
    op.drop_table("dkim_keys")
