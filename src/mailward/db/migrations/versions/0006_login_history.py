"""login history per device, the networks devices used, the unused-device policy

``device_logins`` keeps each device's recent logins (pruned per organization);
``device_networks`` the networks (IPv4 /24, IPv6 /48) each device logged in from, for the
notice on a new network. Organizations get their policy (history retention, notice and
revocation of unused devices: 90 and 120 days by default); devices the time their
"unused" notice went out and the time someone chose to keep them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailward.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("notice = 'pending'")


def _when(nullable: bool, name: str) -> sa.Column[object]:
    return sa.Column(name, mailward.db.base.UTCDateTime(timezone=True), nullable=nullable)


def _device(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["device_id"], ["devices.id"], name=op.f(f"fk_{table}_device_id_devices"),
        ondelete="CASCADE",
    )  # fmt: skip


def _policy_columns() -> None:
    op.add_column(
        "organizations",
        sa.Column("login_history_days", sa.Integer(), server_default="90", nullable=False),
    )
    op.add_column(
        "organizations",
        sa.Column("unused_notice_days", sa.Integer(), server_default="90", nullable=True),
    )
    op.add_column(
        "organizations",
        sa.Column("unused_revoke_days", sa.Integer(), server_default="120", nullable=True),
    )
    op.add_column("organizations", _when(True, "unused_digest_at"))
    op.add_column("devices", _when(True, "unused_notice_at"))
    op.add_column("devices", _when(True, "kept_at"))


def upgrade() -> None:
    _policy_columns()
    op.create_table(
        "device_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        _when(False, "at"),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=10), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        _device("device_logins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_logins")),
    )
    op.create_index("ix_device_logins_device_id_at", "device_logins", ["device_id", "at"])
    op.create_index(op.f("ix_device_logins_at"), "device_logins", ["at"])
    op.create_table(
        "device_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        _when(False, "first_seen_at"),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=10), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("notice", sa.String(length=10), nullable=False),
        _when(True, "notified_at"),
        _device("device_networks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_networks")),
        sa.UniqueConstraint(
            "device_id", "network", name=op.f("uq_device_networks_device_id_network")
        ),
    )
    op.create_index(
        "ix_device_networks_pending",
        "device_networks",
        ["device_id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_table("device_networks")
    op.drop_table("device_logins")
    for column in ("kept_at", "unused_notice_at"):
        op.drop_column("devices", column)
    for column in ("unused_digest_at", "unused_revoke_days", "unused_notice_days"):
        op.drop_column("organizations", column)
    op.drop_column("organizations", "login_history_days")
