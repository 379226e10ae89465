"""Idle IMAP sessions (issue 18): what one idle phone costs the embedded IMAP server and
Dovecot, and how fast a revoke reaches its one session among all the others.

In one run, on PostgreSQL: N addresses with a device each, through the core. Then

1. ``mailward serve`` (embedded plane, free loopback ports, a temporary data
   directory): N connections log in over implicit TLS, SELECT INBOX and IDLE (asyncio
   sockets of this process, not a thread each). The server's RSS and PSS once steady,
   minus before the sessions, divided by N; its CPU over ``--cpu-seconds`` of idling
   (35 s: each session's 30 s safety-net rescan falls in it).
   Then revoke -> BYE: devices spread over the N are revoked through the core, one at
   a time (the serve process hears of it through PostgreSQL's NOTIFY); the time from
   the revoke call until that session reads ``* BYE`` or its end, p50/p95/max, and how
   many of the other sessions ended meanwhile (0 expected).
2. Dovecot from the configuration ``mailward integrate dovecot`` writes (Lua passdb ->
   ``mailward integrate agent``), with room for N sessions: the PSS of all its
   processes, one ``imap`` process per connection; then again with ``imap_hibernate``
   (idling connections move to ``imap-hibernate`` after 5 s). Each idling ``imap``
   process needs an inotify instance of the mail user to hibernate: past
   ``fs.inotify.max_user_instances`` (128 by default) the rest stay ``imap`` processes
   (``imap_processes`` in the report says how many did).

    python bench/idle.py                    # N = 10,000 (needs root for Dovecot)
    python bench/idle.py --quick            # N = 1,000, within ~3 minutes
    python bench/idle.py --embedded-only    # step 1 only

The last line printed is one JSON object: sessions, idle_rss_kb_per_conn (embedded),
idle_cpu_percent, revoke_bye_ms_p50/p95/max, dovecot_rss_kb_per_conn,
dovecot_hibernate_rss_kb_per_conn (Dovecot's figures are PSS summed over its processes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from idle_dovecot import log_tail, running_dovecot  # noqa: E402
from idle_sessions import (  # noqa: E402
    Account,
    IdleSession,
    Memory,
    close_sessions,
    cpu_percent,
    descendants,
    open_sessions,
    raise_open_files,
    steady_memory,
)
from tests.integration.dataplane import start_node  # noqa: E402
from tests.support import create_postgres_database, drop_postgres_database, free_port  # noqa: E402

from mailward.bootstrap import Services, build_services  # noqa: E402
from mailward.core.access.actors import Actor  # noqa: E402
from mailward.integrations.tls import make_self_signed  # noqa: E402
from mailward.mail.tls_buffer import bound_tls_read_buffer  # noqa: E402
from mailward.settings import Settings  # noqa: E402

DOMAIN = "idle.test"
WARM_UP_SESSIONS = 10  # opened and closed before the baseline: first-use imports, caches
BYE_PATIENCE = 10.0
FILL_CONCURRENCY = 16
INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
DOVECOT_CPU_SECONDS = 10.0  # no rescans there: idle processes wait on inotify alone
PORTS: tuple[str, ...] = ("http", "auth_http", "socketmap", "imap", "imaps", "pop3", "pop3s")
PORTS += ("smtp", "submission", "submissions")


def bench_settings(root: Path, database_url: str, sessions: int) -> Settings:
    cert, key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
    make_self_signed(f"mail.{DOMAIN}", cert, key)
    room = sessions + 1000
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        auth_http_secret="idle-bench-secret-0123456789abcdef0123",  # type: ignore[arg-type]
        tls_cert_file=cert,
        tls_key_file=key,
        hostname=f"mail.{DOMAIN}",
        mail_max_connections=room,
        mail_max_connections_per_network=room,
        **{f"{name}_port": free_port() for name in PORTS},  # type: ignore[arg-type]
    )


async def fill(services: Services, count: int) -> dict[Account, int]:
    """``count`` addresses with one device each; their (address, password) -> device id."""
    op = Actor.operator()
    owner = await services.accounts.create(op, "owner@corp.test", "idle bench password 1234 !")
    org = await services.organizations.create(op, "Idle", legal_representative=owner.email)
    await services.mail_services.create(op, org.id, DOMAIN)
    gate = asyncio.Semaphore(FILL_CONCURRENCY)

    async def one(number: int) -> tuple[Account, int]:
        address = f"phone{number:05d}@{DOMAIN}"
        async with gate:
            await services.addresses.create_by_email(op, address)
            added = await services.devices.add(op, address, "phone")
        return (address, added.password), added.device.id

    return dict(await asyncio.gather(*(one(n) for n in range(count))))


def per_session(before: Memory, after: Memory, sessions: int) -> dict[str, float]:
    return {
        "rss_kb_per_conn": round((after.rss_kib - before.rss_kib) / max(1, sessions), 1),
        "pss_kb_per_conn": round((after.pss_kib - before.pss_kib) / max(1, sessions), 1),
        "pss_mib_before": round(before.pss_kib / 1024, 1),
        "pss_mib_after": round(after.pss_kib / 1024, 1),
        "processes": after.processes,
    }


async def measure_idle(
    root_pid: int,
    port: int,
    accounts: list[Account],
    cpu_seconds: float,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> tuple[dict[str, Any], list[IdleSession]]:
    """Sessions opened on a running server, and what they cost it once steady; the
    sessions are left open for the caller."""
    warm = await open_sessions(port, accounts[:WARM_UP_SESSIONS])
    close_sessions(warm.sessions)
    await asyncio.sleep(2.0)
    before = await steady_memory(root_pid)
    opened = await open_sessions(port, accounts)
    report: dict[str, Any] = {
        "opened": len(opened.sessions),
        "failures": opened.failures,
        "first_failure": opened.first_failure,
        "open_s": round(opened.seconds, 1),
    }
    if settle is not None:
        await settle()
    after = await steady_memory(root_pid)
    report.update(per_session(before, after, len(opened.sessions)))
    report["cpu_percent"] = await cpu_percent(root_pid, cpu_seconds)
    return report, opened.sessions


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)


async def revoke_to_bye(
    services: Services, sessions: list[IdleSession], devices: dict[str, int], count: int
) -> dict[str, Any]:
    """Revoke ``count`` devices spread over the sessions, one at a time; the time until
    each one's session ends, and how many other sessions ended meanwhile."""
    op = Actor.operator()
    chosen = sessions[:: max(1, len(sessions) // count)][:count]
    samples, after_calls, calls, missed = [], [], [], 0
    for session in chosen:
        started = time.perf_counter()
        await services.devices.revoke(op, session.address, devices[session.address])
        calls.append((time.perf_counter() - started) * 1000)
        try:
            async with asyncio.timeout(BYE_PATIENCE):
                await session.ended.wait()
        except TimeoutError:
            missed += 1
            continue
        samples.append((session.ended_at - started) * 1000)
        after_calls.append(samples[-1] - calls[-1])
    await asyncio.sleep(1.0)  # a wrong session ended by the last revoke has time to show
    others = [s for s in sessions if s not in chosen]
    return {
        "revoked": [s.address for s in chosen],
        "revokes": len(chosen),
        "revoke_missed": missed,
        "revoke_bye_ms_p50": percentile(samples, 50) if samples else None,
        "revoke_bye_ms_p95": percentile(samples, 95) if samples else None,
        "revoke_bye_ms_max": round(max(samples), 1) if samples else None,
        "revoke_call_ms_p50": percentile(calls, 50),
        "revoke_after_call_ms_p95": percentile(after_calls, 95) if samples else None,
        "revoke_others_ended": sum(1 for s in others if s.ended.is_set()),
    }


async def embedded(
    settings: Settings, services: Services, devices: dict[Account, int], args: argparse.Namespace
) -> tuple[dict[str, Any], set[str]]:
    """Step 1: ``mailward serve``, its idle sessions, then revoke -> BYE among them;
    the report and the revoked addresses."""
    node = start_node(settings)
    try:
        pid, port = node.process.pid, settings.imaps_port
        report, sessions = await measure_idle(pid, port, list(devices), args.cpu_seconds)
        by_address = {address: device for (address, _), device in devices.items()}
        try:
            revoked = await revoke_to_bye(services, sessions, by_address, args.revokes)
            report.update(revoked)
        finally:
            close_sessions(sessions)
    finally:
        node.stop()
    return report, set(report.pop("revoked"))


def inotify_instances() -> int:
    return int(INOTIFY_INSTANCES.read_text())


def imap_processes(master: int) -> int:
    count = 0
    for pid in descendants(master):
        with contextlib.suppress(OSError):
            count += Path(f"/proc/{pid}/comm").read_text().strip() == "imap"
    return count


async def dovecot(
    settings: Settings, root: Path, accounts: list[Account], hibernate: bool, seconds: float
) -> dict[str, Any]:
    """Step 2: Dovecot's idle sessions, with or without hibernation."""
    name = "dovecot-hibernate" if hibernate else "dovecot"
    with running_dovecot(settings, root / name, len(accounts), hibernate) as (master, port):

        async def hibernated() -> None:
            """Until the idle ``imap`` processes handed their connections over, or
            none did for 15 s (see ``inotify_max_user_instances``)."""
            left, since = imap_processes(master), time.monotonic()
            while left > 2 + len(accounts) // 100 and time.monotonic() - since < 15:
                await asyncio.sleep(1.0)
                now = imap_processes(master)
                if now < left:
                    left, since = now, time.monotonic()

        settle = hibernated if hibernate else None
        try:
            report, sessions = await measure_idle(master, port, accounts, seconds, settle)
        except Exception:
            print(log_tail(root / name), file=sys.stderr)
            raise
        report["imap_processes"] = imap_processes(master)
        if hibernate:  # Dovecot hibernates only sessions whose imap process got an inotify
            report["inotify_max_user_instances"] = inotify_instances()
        if report["failures"]:
            report["log_tail"] = log_tail(root / name, 5)
        close_sessions(sessions)
    return report


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="mwidle", dir="/tmp"))
    os.chmod(root, 0o755)  # noqa: S103  Dovecot's mail user reaches the mail folder below
    database_url = await create_postgres_database()
    result: dict[str, Any] = {"sessions": args.sessions}
    try:
        settings = bench_settings(root, database_url, args.sessions)
        services = await build_services(settings)
        try:
            started = time.monotonic()
            devices = await fill(services, args.sessions)
            result["fill_s"] = round(time.monotonic() - started, 1)
            log(f"{args.sessions} addresses and devices in {result['fill_s']} s")
            result["embedded"], revoked = await embedded(settings, services, devices, args)
            log(f"embedded: {result['embedded']}")
        finally:
            await services.close()
        if not args.embedded_only:
            alive = [a for a in devices if a[0] not in revoked]
            result.update(await dovecots(settings, root, alive, args))
    finally:
        await drop_postgres_database(database_url)
        shutil.rmtree(root, ignore_errors=True)
    return result | summary(result)


async def dovecots(
    settings: Settings, root: Path, accounts: list[Account], args: argparse.Namespace
) -> dict[str, Any]:
    """Both Dovecot runs against ``mailward integrate agent``."""
    agent = start_node(settings, "integrate", "agent")
    reports: dict[str, Any] = {}
    try:
        for hibernate in (False, True):
            key = "dovecot_hibernate" if hibernate else "dovecot"
            reports[key] = await dovecot(settings, root, accounts, hibernate, DOVECOT_CPU_SECONDS)
            log(f"{key}: {reports[key]}")
    finally:
        agent.stop()
    return reports


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The interface fields, from the steps' reports."""
    own = result["embedded"]
    figures = {
        "idle_rss_kb_per_conn": own["rss_kb_per_conn"],
        "idle_pss_kb_per_conn": own["pss_kb_per_conn"],
        "idle_cpu_percent": own["cpu_percent"],
    }
    figures |= {k: own[k] for k in own if k.startswith("revoke_bye_ms")}
    for key in ("dovecot", "dovecot_hibernate"):
        if key in result:
            figures[f"{key}_rss_kb_per_conn"] = result[key]["pss_kb_per_conn"]
            figures[f"{key}_cpu_percent"] = result[key]["cpu_percent"]
    return figures


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def idle_rss_kb_per_conn() -> float | None:
    """The embedded server's KiB per idle session from a quick run of step 1 (for
    bench/scale.py: 500 sessions, a minute or two); None when the run failed."""
    command = [sys.executable, __file__, "--embedded-only", "--sessions", "500"]
    command += ["--cpu-seconds", "3", "--revokes", "3"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        figure = json.loads(done.stdout.strip().splitlines()[-1])["idle_rss_kb_per_conn"]
    except (subprocess.SubprocessError, IndexError, KeyError, ValueError):
        return None
    return float(figure)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sessions (~3 minutes)")
    parser.add_argument("--sessions", type=int, help="idle sessions (default 10,000)")
    parser.add_argument("--revokes", type=int, default=20, help="devices revoked among them")
    parser.add_argument(
        "--cpu-seconds",
        type=float,
        default=35.0,
        help="the embedded server's idle CPU is measured this long (> 30 s: every session's "
        "safety-net rescan falls in it); Dovecot's over 10 s",
    )
    parser.add_argument("--embedded-only", action="store_true", help="no Dovecot")
    args = parser.parse_args()
    args.sessions = args.sessions or (1_000 if args.quick else 10_000)
    return args


def main() -> None:
    args = arguments()
    opened = raise_open_files()
    if opened < args.sessions + 1000:
        raise SystemExit(f"{args.sessions} sessions need more open files than {opened}")
    bound_tls_read_buffer()  # this side's N TLS connections: 32 KiB each, not 256
    print(json.dumps(asyncio.run(bench(args))))


if __name__ == "__main__":
    main()
