"""domain verification: Mail Services are pending until their domain is proved

A domain is unique among *verified* Mail Services only (a partial unique index), so a
pending claim never blocks the real owner. Mail Services that exist before this
revision count as verified.

On SQLite, dropping the old unique constraint rebuilds the table; foreign keys are
switched off around the rebuild, otherwise dropping the old table would cascade to
every address and device.

Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0002"
down_revision: str | None = "0001"


def _columns() -> list[sa.Column[object]]:
    return [
        col.when("verified_at", nullable=True),
        col.string("verification_token", 64, nullable=True),
        col.when("checked_at", nullable=True),
        col.when("next_check_at", nullable=True),
        sa.Column("check_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("check_message", sa.String(length=300), server_default="", nullable=False),
    ]


def _rebuild(sqlite: bool) -> None:
    with op.batch_alter_table("mail_services", recreate="always" if sqlite else "auto") as batch:
        for column in _columns():
            batch.add_column(column)
        batch.drop_constraint("uq_mail_services_domain", type_="unique")
        batch.create_unique_constraint(
            "uq_mail_services_domain_organization_id", ["domain", "organization_id"]
        )


def _address_count() -> int:
    return int(op.get_bind().scalar(sa.text("SELECT count(*) FROM addresses")) or 0)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    before = _address_count()
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    _rebuild(sqlite)
    if sqlite:
        op.execute("PRAGMA foreign_keys=ON")
    if _address_count() != before:  # foreign keys could not be switched off: refuse
        raise RuntimeError("migration 0002 would have deleted addresses; nothing was changed")
    op.execute("UPDATE mail_services SET verified_at = created_at")
    col.create_partial_index(
        "uq_mail_services_verified_domain",
        "mail_services",
        ["domain"],
        where="verified_at IS NOT NULL",
        unique=True,
    )


def downgrade() -> None:
    op.execute("DELETE FROM mail_services WHERE verified_at IS NULL")
    op.drop_index("uq_mail_services_verified_domain", table_name="mail_services")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("mail_services", recreate="always" if sqlite else "auto") as batch:
        batch.drop_constraint("uq_mail_services_domain_organization_id", type_="unique")
        batch.create_unique_constraint("uq_mail_services_domain", ["domain"])
        for column in _columns():
            batch.drop_column(column.name)
    if sqlite:
        op.execute("PRAGMA foreign_keys=ON")
