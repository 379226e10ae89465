"""live device names: unique per address among devices not revoked

Two racing "Add a device" with one name both passed the application's check; the
partial unique index makes one of them fail with a clear conflict. Live duplicates left
by such races are renamed first ("Laptop" -> "Laptop (#42)"), so the upgrade never
fails on existing data.

Create Date: 2026-12-03 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mailward.db.migrations import columns as col

revision: str = "0005"
down_revision: str | None = "0004"


def _rename_live_duplicates() -> None:
    connection = op.get_bind()
    duplicates = connection.execute(
        sa.text(
            "SELECT d.id, d.name FROM devices d WHERE d.revoked_at IS NULL AND EXISTS ("
            " SELECT 1 FROM devices o WHERE o.address_id = d.address_id AND o.name = d.name"
            " AND o.revoked_at IS NULL AND o.id < d.id)"
        )
    ).all()
    for device_id, name in duplicates:
        suffix = f" (#{device_id})"
        connection.execute(
            sa.text("UPDATE devices SET name = :name WHERE id = :id"),
            {"name": name[: 120 - len(suffix)] + suffix, "id": device_id},
        )


def upgrade() -> None:
    _rename_live_duplicates()
    col.create_partial_index(
        "uq_devices_live_name", "devices", ["address_id", "name"], "revoked_at IS NULL", unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_devices_live_name", table_name="devices")
