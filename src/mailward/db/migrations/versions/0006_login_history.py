"""login history per device, the networks devices used, the unused-device policy

``device_logins`` keeps each device's recent logins (pruned per organization);
``device_networks`` the networks (IPv4 /24, IPv6 /48) each device logged in from, for the
notice on a new network. Organizations get their policy (history retention, notice and
revocation of unused devices: 90 and 120 days by default); devices the time their
"unused" notice went out and the time someone chose to keep them.

Create Date: 2026-12-03 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0006"
down_revision: str | None = "0005"


# The organization's policy in days: column, default, whether it can be switched off.
POLICY_DAYS = (
    ("login_history_days", "90", False),
    ("unused_notice_days", "90", True),
    ("unused_revoke_days", "120", True),
)


def _policy_columns() -> None:
    for name, days, nullable in POLICY_DAYS:
        days_column = sa.Column(name, sa.Integer(), server_default=days, nullable=nullable)
        op.add_column("organizations", days_column)
    op.add_column("organizations", col.when("unused_digest_at", nullable=True))
    op.add_column("devices", col.when("unused_notice_at", nullable=True))
    op.add_column("devices", col.when("kept_at", nullable=True))


def upgrade() -> None:
    _policy_columns()
    col.create_table(
        "device_logins",
        col.integer("device_id"),
        col.when("at"),
        col.string("ip", 64),
        col.string("protocol", 10),
        col.string("client", 200, nullable=True),
        col.string("result", 10),
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
        col.foreign_key("device_id", "devices"),
    )
    op.create_index("ix_device_logins_device_id_at", "device_logins", ["device_id", "at"])
    op.create_index(op.f("ix_device_logins_at"), "device_logins", ["at"])
    col.create_table(
        "device_networks",
        col.integer("device_id"),
        col.string("network", 64),
        col.when("first_seen_at"),
        col.string("ip", 64),
        col.string("protocol", 10),
        col.string("client", 200, nullable=True),
        col.string("notice", 10),
        col.when("notified_at", nullable=True),
        col.foreign_key("device_id", "devices"),
        col.unique("device_id", "network"),
    )
    col.create_partial_index(
        "ix_device_networks_pending", "device_networks", ["device_id"], "notice = 'pending'"
    )


def downgrade() -> None:
    op.drop_table("device_networks")
    op.drop_table("device_logins")
    for column in ("kept_at", "unused_notice_at"):
        op.drop_column("devices", column)
    for column in ("unused_digest_at", "unused_revoke_days", "unused_notice_days"):
        op.drop_column("organizations", column)
    op.drop_column("organizations", "login_history_days")
