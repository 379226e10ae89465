"""dkim keys: each Mail Service's signing keys, private halves sealed

Existing Mail Services get their first keys lazily, the first time their keys are
asked for (signing, the DNS page, ``mailward dkim``/``dns``): key generation needs the
server key ring, which a migration does not hold.

Create Date: 2026-12-03 10:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    col.create_table(
        "dkim_keys",
        col.integer("mail_service_id"),
        col.string("selector", 63),
        col.string("algorithm", 20),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        col.when("created_at"),
        col.when("retired_at", nullable=True),
        col.foreign_key("mail_service_id", "mail_services"),
        col.unique("mail_service_id", "selector"),
    )
    op.create_index(
        op.f("ix_dkim_keys_mail_service_id"), "dkim_keys", ["mail_service_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dkim_keys_mail_service_id"), table_name="dkim_keys")
    op.drop_table("dkim_keys")
