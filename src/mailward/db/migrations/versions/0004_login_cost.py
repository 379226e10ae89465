"""login cost: chosen device passwords found with one Argon2id per attempt

Each address gets an Argon2id salt (made with its first chosen password). A chosen
password's lookup is then the keyed hash of Argon2id(password, address salt), stored
in ``devices.password_lookup`` like a generated one's, so one Argon2id computation and
one index lookup check all of an address's chosen devices. Existing per-device hashes
(``devices.password_hash``) cannot be converted without the password: they keep
working and are converted at their next successful login.

Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.add_column("addresses", sa.Column("password_salt", sa.LargeBinary(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("addresses") as batch:
        batch.drop_column("password_salt")
