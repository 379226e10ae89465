"""Migration 0002 keeps every existing Mail Service, address and device, and counts the
existing Mail Services as verified (they were created before domains had to be proved)."""

from __future__ import annotations

from sqlalchemy import text

from mailward.db.engine import Database
from mailward.db.migrate import upgrade

ROWS = [
    "INSERT INTO organizations (id, name, created_at) VALUES (1, 'Corp', '2026-01-01 00:00:00')",
    "INSERT INTO mail_services (id, organization_id, domain, created_at)"
    " VALUES (1, 1, 'corp.test', '2026-01-02 00:00:00')",
    "INSERT INTO addresses (id, mail_service_id, local_part, display_name, created_at)"
    " VALUES (1, 1, 'info', '', '2026-01-03 00:00:00')",
    "INSERT INTO devices (id, address_id, name, password_kind, created_by, created_at,"
    " password_changed_at, allowed_protocols, allowed_networks)"
    " VALUES (1, 1, 'Laptop', 'generated', 'operator', '2026-01-04 00:00:00',"
    " '2026-01-04 00:00:00', 'imap', '')",
]


async def test_existing_mail_services_stay_with_their_addresses_and_count_as_verified(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        await upgrade(db.engine, "0001")
        async with db.engine.begin() as conn:
            for statement in ROWS:
                await conn.execute(text(statement))
        await upgrade(db.engine)
        async with db.engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM addresses")) == 1
            assert await conn.scalar(text("SELECT count(*) FROM devices")) == 1
            verified = await conn.scalar(
                text("SELECT count(*) FROM mail_services WHERE verified_at IS NOT NULL")
            )
            assert verified == 1
    finally:
        await db.dispose()
