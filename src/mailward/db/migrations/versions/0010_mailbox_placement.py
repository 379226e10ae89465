"""placement of each address's mailbox on a Dovecot mailbox backend

``addresses.mailbox_backend``: the backend's name (``settings.mailbox_backends``), NULL
on one machine. Indexed: least-used placement counts the addresses of each backend.

Create Date: 2026-12-03 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"


def upgrade() -> None:
    op.add_column("addresses", sa.Column("mailbox_backend", sa.String(64), nullable=True))
    op.create_index(op.f("ix_addresses_mailbox_backend"), "addresses", ["mailbox_backend"])


def downgrade() -> None:
    op.drop_index(op.f("ix_addresses_mailbox_backend"), table_name="addresses")
    with op.batch_alter_table("addresses") as batch:
        batch.drop_column("mailbox_backend")
