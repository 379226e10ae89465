"""No device password reaches the database, the SQL echo, the logs or the audit log."""

import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from mailward.bootstrap import Services
from mailward.core.passwords import suggest_password
from tests.support import World, make_world, open_services

CHOSEN = "vivid-otter-clamps-17-brass-kettles"


async def table_dump(services: Services) -> str:
    """Every row of every table, as text."""
    async with services.db.engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        rows = []
        for table in tables:
            result = await conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            rows.extend(repr(tuple(row)) for row in result)
    return "\n".join(rows)


async def make_devices(world: World) -> list[str]:
    devices = world.services.devices
    suggestion = suggest_password(world.services.keys)
    generated = await devices.add(world.admin, world.address, "Generated")
    suggested = await devices.add(
        world.admin,
        world.address,
        "Suggested",
        password=suggestion.password,
        suggestion_proof=suggestion.proof,
    )
    chosen = await devices.add(world.admin, world.address, "Chosen", password=CHOSEN)
    changed = await devices.change_password(world.admin, world.address, "Generated")
    changed_chosen = await devices.change_password(
        world.admin, world.address, "Suggested", password=CHOSEN + "!"
    )
    return [
        generated.password,
        suggested.password,
        chosen.password,
        changed.password,
        changed_chosen.password,
    ]


async def test_passwords_are_nowhere_at_rest_or_in_logs(
    settings: object, tmp_path: Path, caplog: pytest.LogCaptureFixture, clock: object
) -> None:
    caplog.set_level(logging.DEBUG)
    echo_settings = settings.model_copy(update={"database_echo": True})  # type: ignore[attr-defined]
    services = await open_services(echo_settings, clock)  # type: ignore[arg-type]
    try:
        world = await make_world(services)
        passwords = await make_devices(world)
        dump = await table_dump(services)
        audit = await table_dump_audit(services)
    finally:
        await services.close()
    assert "Generated" in dump and "device:password_change" in audit
    assert "SELECT" in caplog.text  # the SQL echo was captured
    files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for password in passwords:
        assert password not in dump
        assert password not in audit
        assert password not in caplog.text
        assert password.encode() not in files


async def table_dump_audit(services: Services) -> str:
    async with services.db.engine.connect() as conn:
        result = await conn.execute(text("SELECT action, target, details FROM audit_events"))
        return "\n".join(repr(tuple(row)) for row in result)
