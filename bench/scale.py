"""Scale on PostgreSQL (issue 18): how login, the manager's pages and the API lists cost
as the installation grows, and whether every query on those paths uses an index.

Fills a database of its own (``mailward_scale``, dropped at the end) with bulk SQL
(organizations, Mail Services, addresses, devices, audit events in the proportions of
a hosting provider: 100 addresses per organization, 10 devices per address, 10 audit
events per device), then measures the real paths at three sizes (1x, 10x, 100x):

- a cold generated-password login through ``authenticate()`` and through the Dovecot
  auth endpoint (HTTP), p50/p99 (credential cache off);
- the manager pages (dashboard, Mail Services, a domain's addresses with search, the
  Devices tab of an address with 5,000 devices, the audit log with each filter) and the
  matching API lists, p50/p95, through the ASGI app (httpx ASGITransport);
- the last-used and login-history flush of 2,000 distinct devices (one second at
  2,000 logins/s);
- at the largest size, the flush under 2,000 logins/s of distinct devices for 15 s
  (flush_keeps_up, flush_ms_p95, queue depth) and the device-change feed's lag with
  1,000 changes/s committed by another process (feed_lag_ms_p50/p95/max), both in
  bench/scale_flow.py;
- and, at the largest size, ``EXPLAIN`` of every statement those paths ran: a
  sequential scan of a big table (10,000 rows or more) is counted in ``seq_scans``.

    python bench/scale.py --quick   # 1k, 10k, 100k devices (1M audit rows); ~5 min
    python bench/scale.py           # 10k, 100k, 1M devices (10M audit rows)

The last line is one JSON object: login_p50_ratio (largest / smallest), pages_p95_ms_max,
seq_scans, idle_rss_kb_per_conn (from bench/idle.py when present, else null),
flush_keeps_up, flush_ms_p95, feed_lag_ms_p50, feed_lag_ms_p95, ...
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from mailward.auth.limits import AuthLimits
from mailward.auth.runtime import AuthRuntime, close_authenticator
from mailward.bootstrap import Services, build_services
from mailward.core.access.actors import Actor
from mailward.core.limits import Limit
from mailward.settings import Settings
from mailward.web.app import create_app
from mailward.web.security import SESSION_COOKIE

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scale_flow, beside this file
from scale_flow import (
    measure_feed_lag,
    measure_flush_rate,
    measure_notify_cost,
)

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DATABASE = "mailward_scale"
BIG_TABLES = ("audit_events", "devices", "addresses", "mail_services", "device_changes")
BULK = 10_000_000  # bulk rows take ids from here: the real rows keep the sequences
SECRET = "s" * 40
UNLIMITED = AuthLimits(
    address_ip=Limit("address_ip.auth", 10**9, 60),
    ip=Limit("ip.auth", 10**9, 60),
    address=Limit("address.auth", 10**9, 60),
)
SIZES = {"quick": (1_000, 10_000, 100_000), "full": (10_000, 100_000, 1_000_000)}
BIG_ADDRESS_DEVICES = 5_000
ADMIN_MAIL_SERVICES = 300


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank: the smallest sample with at least p % of them at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def timed(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


# -- filling -------------------------------------------------------------------------


async def fill(conn: AsyncConnection, lo: int, hi: int) -> None:
    """Devices ``lo``..``hi`` (bulk numbering) with their addresses, organizations, one
    Mail Service per organization, and ten audit events per device."""
    per = {"addresses": 10, "organizations": 1000}
    a_lo, a_hi = lo // per["addresses"], hi // per["addresses"]
    o_lo, o_hi = lo // per["organizations"], hi // per["organizations"]
    await conn.execute(
        text(
            "INSERT INTO organizations (id, name, created_at) SELECT :b + i, 'Bulk ' || i, now()"
            " FROM generate_series(:lo, :hi - 1) i"
        ),
        {"b": BULK, "lo": o_lo, "hi": o_hi},
    )
    await conn.execute(
        text(
            "INSERT INTO mail_services (id, organization_id, domain, created_at, verified_at,"
            " check_failures, check_message) SELECT :b + i, :b + i, 'bulk' || i || '.test',"
            " now(), now(), 0, '' FROM generate_series(:lo, :hi - 1) i"
        ),
        {"b": BULK, "lo": o_lo, "hi": o_hi},
    )
    await conn.execute(
        text(
            "INSERT INTO addresses (id, mail_service_id, local_part, display_name, created_at)"
            " SELECT :b + i, :b + i / 100, 'box' || i, 'Box ' || i, now()"
            " FROM generate_series(:lo, :hi - 1) i"
        ),
        {"b": BULK, "lo": a_lo, "hi": a_hi},
    )
    await conn.execute(
        text(
            "INSERT INTO devices (id, address_id, name, password_kind, password_lookup,"
            " password_key_id, created_by, created_at, password_changed_at,"
            " allowed_protocols, allowed_networks)"
            " SELECT :b + i, :b + i / 10, 'Device ' || i, 'generated',"
            " decode(md5('a' || i) || md5('b' || i), 'hex'), 'bulk', 'bench', now(), now(),"
            " 'imap,pop3,smtp', '' FROM generate_series(:lo, :hi - 1) i"
        ),
        {"b": BULK, "lo": lo, "hi": hi},
    )
    await conn.execute(
        text(
            "INSERT INTO audit_events (id, at, actor, organization_id, action, address_id,"
            " device_id, target, details)"
            " SELECT 10 * :b + i, now() - (i % 100000) * interval '1 minute',"
            " 'admin' || (i % 50) || '@bulk.test', :b + (i / 10) / 1000,"
            " (ARRAY['device:add','device:revoke','device:rename','address:create'])[i % 4 + 1],"
            " :b + (i / 10) / 10, :b + i / 10, 'bulk', '{}'"
            " FROM generate_series(:lo * 10, :hi * 10 - 1) i"
        ),
        {"b": BULK, "lo": lo, "hi": hi},
    )


async def fill_admin_org(
    conn: AsyncConnection, org_id: int, address_id: int, addresses_each: int = 100
) -> None:
    """The measured organization: 300 Mail Services of 100 addresses, 5,000 devices on
    one address (nine in ten revoked), and 50,000 audit events."""
    await conn.execute(
        text(
            "INSERT INTO mail_services (id, organization_id, domain, created_at, verified_at,"
            " check_failures, check_message) SELECT 3 * :b + i, :org, 'own' || i || '.test',"
            " now(), now(), 0, '' FROM generate_series(1, :n) i"
        ),
        {"b": BULK, "org": org_id, "n": ADMIN_MAIL_SERVICES},
    )
    await conn.execute(
        text(
            "INSERT INTO addresses (id, mail_service_id, local_part, display_name, created_at)"
            " SELECT 3 * :b + i, 3 * :b + 1 + i % :n, 'own' || i, 'Own ' || i, now()"
            " FROM generate_series(1, CAST(:n AS integer) * CAST(:each AS integer)) i"
        ),
        {"b": BULK, "n": ADMIN_MAIL_SERVICES, "each": addresses_each},
    )
    await conn.execute(
        text(
            "INSERT INTO devices (id, address_id, name, password_kind, password_lookup,"
            " password_key_id, created_by, created_at, password_changed_at, allowed_protocols,"
            " allowed_networks, revoked_at) SELECT 3 * :b + i, :address, 'Phone ' || i,"
            " 'generated', decode(md5('c' || i) || md5('d' || i), 'hex'), 'bulk', 'bench',"
            " now(), now(), 'imap,pop3,smtp', '', CASE WHEN i % 10 = 0 THEN NULL ELSE now() END"
            " FROM generate_series(1, :n) i"
        ),
        {"b": BULK, "address": address_id, "n": BIG_ADDRESS_DEVICES},
    )
    await conn.execute(
        text(
            "INSERT INTO audit_events (id, at, actor, organization_id, action, address_id,"
            " device_id, target, details) SELECT 30 * :b + i, now(), 'admin' || (i % 5) ||"
            " '@corp.test', :org, (ARRAY['device:add','device:revoke'])[i % 2 + 1], :address,"
            " 3 * :b + 1 + i % :n, 'own', '{}' FROM generate_series(1, 50000) i"
        ),
        {"b": BULK, "org": org_id, "address": address_id, "n": BIG_ADDRESS_DEVICES},
    )


# -- the measured world ---------------------------------------------------------------


class World:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.op = Actor.operator()

    async def make(self) -> None:
        s, op = self.services, self.op
        owner = await s.accounts.create(op, "owner@corp.test", "Owner-Password-2026!", "Owner")
        org = await s.organizations.create(op, "Corp", legal_representative=owner.email)
        self.org_id, self.actor = org.id, Actor(owner.id, owner.email, "192.0.2.2")
        self.mail_service = await s.mail_services.create(op, org.id, "corp.test")
        self.address = await s.addresses.create_by_email(op, "info@corp.test")
        self.logins = [
            (await s.devices.add(op, self.address.email, f"Login {n}")).password for n in range(5)
        ]
        session = await s.web_sessions.start(owner.id, True, "192.0.2.2", "bench")
        self.cookie = session.token
        self.api_secret = (await s.api_tokens.create(self.actor, org.id, "bench")).secret

    def pages(self) -> dict[str, str]:
        o, m, a = self.org_id, self.mail_service.id, self.address.id
        d = 3 * BULK + 10
        return {
            "dashboard": "/dashboard",
            "mail_services": "/mail-services",
            "addresses_search": f"/mail-services/{3 * BULK + 1}?q=own1",
            "devices_tab": f"/addresses/{a}/devices",
            "devices_tab_revoked": f"/addresses/{a}/devices?revoked=1",
            "audit": f"/orgs/{o}/audit",
            "audit_address": f"/orgs/{o}/audit?address=info%40corp.test",
            "audit_device": f"/orgs/{o}/audit?device={d}",
            "audit_actor": f"/orgs/{o}/audit?actor=admin1%40corp.test",
            "audit_action": f"/orgs/{o}/audit?action=device%3Arevoke",
            "api_mail_services": f"/api/v1/organizations/{o}/mail-services",
            "api_addresses_search": f"/api/v1/mail-services/{m}/addresses?search=info",
            "api_devices": f"/api/v1/addresses/{a}/devices",
            "api_audit": f"/api/v1/organizations/{o}/audit-events",
            "api_audit_address": f"/api/v1/organizations/{o}/audit-events?address_id={a}",
            "api_audit_device": f"/api/v1/organizations/{o}/audit-events?device_id={d}",
            "api_audit_actor": f"/api/v1/organizations/{o}/audit-events?actor=admin1@corp.test",
            "api_audit_action": f"/api/v1/organizations/{o}/audit-events?action=device:revoke",
        }


async def measure_logins(world: World, n: int) -> dict[str, float]:
    auth = world.services.build_authenticator(limits=UNLIMITED)
    auth.cache.ttl = 0  # cold: every login reaches the database
    email, passwords = world.address.email, world.logins
    count = 0

    async def login() -> None:
        nonlocal count
        count += 1
        result = await auth.authenticate(email, passwords[count % 5], "imap", "192.0.2.10")
        assert getattr(result, "device_id", None) or not hasattr(result, "reason"), result

    direct = await timed(login, n)
    async with AuthRuntime(world.services, auth) as runtime:
        server = await runtime.serve_http("127.0.0.1", 0)
        async with httpx.AsyncClient(base_url=server.url) as client:
            body = {"user": email, "service": "imap", "remote_ip": "192.0.2.11"}

            async def dovecot() -> None:
                nonlocal count
                count += 1
                answer = await client.post(
                    "/auth/dovecot",
                    json={**body, "password": passwords[count % 5]},
                    headers={"X-Mailward-Secret": SECRET},
                )
                assert answer.json()["result"] == "ok", answer.text

            endpoint = await timed(dovecot, n)
    await close_authenticator(auth)
    return {
        "login_p50_ms": statistics.median(direct),
        "login_p99_ms": percentile(direct, 99),
        "dovecot_p50_ms": statistics.median(endpoint),
        "dovecot_p99_ms": percentile(endpoint, 99),
    }


async def measure_pages(world: World, n: int) -> dict[str, Any]:
    app = create_app(world.services)
    transport = httpx.ASGITransport(app=app)
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://mailward.test") as client:
        client.cookies.set(SESSION_COOKIE, world.cookie)
        for name, path in world.pages().items():
            headers = {"Authorization": f"Bearer {world.api_secret}"} if "/api/" in path else {}
            first = await client.get(path, headers=headers)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            samples = await timed(partial(client.get, path, headers=headers), n)
            results[name] = {
                "p50_ms": round(statistics.median(samples), 2),
                "p95_ms": round(percentile(samples, 95), 2),
                "bytes": len(first.content),
            }
    return results


async def measure_flush(world: World) -> dict[str, float]:
    """One second of 2,000 logins/s of distinct devices (of the 5,000-device address),
    flushed as serve does: last used and login history."""
    auth = world.services.build_authenticator(limits=UNLIMITED)
    now = world.services.clock.now()
    for i in range(2000):
        auth.last_used.note(3 * BULK + 1 + i, now, "192.0.2.20", "imap", "bench")
    start = time.perf_counter()
    await auth.last_used.flush()
    elapsed = (time.perf_counter() - start) * 1000
    await close_authenticator(auth)
    return {"flush_2000_devices_ms": round(elapsed, 1)}


# -- plans ------------------------------------------------------------------------------


def capture(services: Services) -> list[tuple[str, Any]]:
    captured: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", before)
    return captured


async def seq_scans(url: str, statements: list[tuple[str, Any]], min_rows: int = 0) -> list[str]:
    """Statements whose plan reads one of the big tables sequentially (tables with fewer
    than ``min_rows`` rows, where a sequential scan is the right plan, aside)."""
    engine = create_async_engine(url)
    found = []
    seen = set()
    async with engine.connect() as conn:
        sizes = await conn.execute(
            text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(BIG_TABLES)},
        )
        big = [name for name, rows in sizes if rows >= min_rows]
        for statement, parameters in statements:
            if statement in seen:
                continue
            seen.add(statement)
            result = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in result)
            if any(f"Seq Scan on {table}" in plan for table in big):
                found.append(statement[:120] + " ... " + statement[-160:])
    await engine.dispose()
    return found


# -- the run -----------------------------------------------------------------------------


def idle_rss_kb_per_conn() -> float | None:
    """From bench/idle.py (the idle IMAP sessions bench) when it is there."""
    path = Path(__file__).with_name("idle.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("idle_bench", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    measure = getattr(module, "idle_rss_kb_per_conn", None)
    return measure() if callable(measure) else None


async def recreate(name: str, drop_only: bool = False) -> None:
    engine = create_async_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if not drop_only:
            await conn.execute(text(f"CREATE DATABASE {name}"))
    await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = args.sizes or SIZES["quick" if args.quick else "full"]
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE
    await recreate(DATABASE)
    report: dict[str, Any] = {"sizes_devices": list(sizes), "steps": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp) / "data",
                database_url=url,
                auth_http_secret=SecretStr(SECRET),
                api_requests_per_minute=1_000_000,  # measured, not limited
            )
            services = await build_services(settings)
            world = World(services)
            await world.make()
            filled = 0
            async with services.db.engine.begin() as conn:
                await fill_admin_org(conn, world.org_id, world.address.id)
            statements = capture(services)
            for size in sizes:
                started = time.perf_counter()
                async with services.db.engine.begin() as conn:
                    await fill(conn, filled, size)
                filled = size
                async with services.db.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text("ANALYZE"))
                fill_s = time.perf_counter() - started
                print(f"filled {size:,} devices in {fill_s:.0f} s", file=sys.stderr)
                statements.clear()
                step: dict[str, Any] = {"fill_s": round(fill_s, 1), "load": os.getloadavg()[0]}
                step.update(await measure_logins(world, args.logins))
                step["pages"] = await measure_pages(world, args.requests)
                step.update(await measure_flush(world))
                report["steps"][str(size)] = step
                print(json.dumps({str(size): step}), file=sys.stderr)
            scans = await seq_scans(url, statements, min_rows=10_000)
            flow = await measure_flush_rate(services, BULK, sizes[-1])
            print(json.dumps(flow), file=sys.stderr)
            flow.update(await measure_feed_lag(services, url, BULK))
            flow.update(await measure_notify_cost(url))
            flow["flow_load"] = os.getloadavg()[0]
            report["flow"] = flow
            await services.close()
    finally:
        await recreate(DATABASE, drop_only=True)
    steps = report["steps"]
    small, large = steps[str(sizes[0])], steps[str(sizes[-1])]
    report.update(
        login_p50_ratio=round(large["login_p50_ms"] / small["login_p50_ms"], 2),
        dovecot_p50_ratio=round(large["dovecot_p50_ms"] / small["dovecot_p50_ms"], 2),
        pages_p95_ms_max=max(p["p95_ms"] for p in large["pages"].values()),
        slowest_page=max(large["pages"], key=lambda k: large["pages"][k]["p95_ms"]),
        seq_scans=len(scans),
        seq_scan_statements=scans,
        idle_rss_kb_per_conn=idle_rss_kb_per_conn(),
    )
    flow = report.pop("flow")
    report.update({k: v for k, v in flow.items() if k != "flush_ms"})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k, 10k, 100k devices")
    parser.add_argument(
        "--sizes",
        type=lambda v: tuple(int(n) for n in v.split(",")),
        help="device counts instead, e.g. 1000,10000 (multiples of 1,000)",
    )
    parser.add_argument("--logins", type=int, default=200, help="logins per size and path")
    parser.add_argument("--requests", type=int, default=40, help="requests per page and size")
    report = asyncio.run(run(parser.parse_args()))
    summary = {k: v for k, v in report.items() if k != "steps"}
    print(json.dumps(report["steps"], indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
