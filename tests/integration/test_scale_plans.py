"""Every query the manager's lists, the API lists and a login run uses an index on
PostgreSQL: with 45,000 devices and 450,000 audit events, analyzed, the plan of each
statement (``EXPLAIN``) reads no big table sequentially. bench/scale.py runs the same
check at up to a million devices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bench.scale import (
    SECRET,
    World,
    capture,
    fill,
    fill_admin_org,
    measure_flush,
    measure_logins,
    measure_pages,
    seq_scans,
)

from mailward.bootstrap import Services
from tests.support import database_url_for, make_settings, running_services

pytestmark = pytest.mark.postgres


@pytest.fixture
async def postgres_url(tmp_path: Path) -> AsyncIterator[str]:
    async for url in database_url_for("postgres", tmp_path):
        yield url


@pytest.fixture
async def filled(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Services, World]]:
    settings = make_settings(tmp_path, postgres_url, auth_http_secret=SECRET)
    async for services in running_services(settings):
        world = World(services)
        await world.make()
        async with services.db.engine.begin() as conn:
            await fill_admin_org(conn, world.org_id, world.address.id, addresses_each=2)
            await fill(conn, 0, 40_000)
        async with services.db.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        yield services, world


async def test_no_list_or_login_reads_a_big_table_sequentially(
    filled: tuple[Services, World], postgres_url: str
) -> None:
    services, world = filled
    statements = capture(services)
    await measure_logins(world, 2)
    await measure_pages(world, 1)
    await measure_flush(world)
    assert len({s for s, _ in statements}) > 20  # the paths ran and were seen
    # Tables of a few hundred rows (Mail Services here) are read whole by design.
    scans = await seq_scans(postgres_url, statements, min_rows=5000)
    assert scans == [], "\n\n".join(scans)
