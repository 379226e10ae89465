"""passkeys of manager accounts and their one-use challenges

``passkeys``: WebAuthn credentials of an account (public key and sign count only; the
private key never leaves the authenticator). ``passkey_challenges``: a challenge is
bound to the browser's session (keyed hash), single use, and short-lived.

Create Date: 2026-12-03 10:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0009"
down_revision: str | None = "0008"


def upgrade() -> None:
    col.create_table(
        "passkeys",
        col.integer("account_id"),
        col.string("name", 120),
        col.binary("credential_id", 1023),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        col.integer("sign_count"),
        col.when("created_at"),
        col.when("last_used_at", nullable=True),
        col.foreign_key("account_id", "accounts"),
        col.unique("credential_id"),
    )
    op.create_index(op.f("ix_passkeys_account_id"), "passkeys", ["account_id"])
    col.create_table(
        "passkey_challenges",
        col.binary("binding", 32),
        col.string("purpose", 20),
        col.binary("challenge", 64),
        col.integer("account_id", nullable=True),
        col.when("expires_at"),
        col.foreign_key("account_id", "accounts"),
    )
    op.create_index(op.f("ix_passkey_challenges_binding"), "passkey_challenges", ["binding"])


def downgrade() -> None:
    op.drop_index(op.f("ix_passkey_challenges_binding"), table_name="passkey_challenges")
    op.drop_table("passkey_challenges")
    op.drop_index(op.f("ix_passkeys_account_id"), table_name="passkeys")
    op.drop_table("passkeys")
