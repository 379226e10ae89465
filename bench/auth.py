"""Benchmark of device authentication (issue 3): flat cost and the naive baseline.

Measures ``authenticate()`` p50/p99 latency and throughput for addresses with 1, 10,
100 and 1000 devices, for a correct generated password, a correct chosen password and
a wrong password; with the credential cache off (the cold path of a new client) and on.
In the same run, the naive baseline mail stacks use today: verify each device's
Argon2id hash in turn until one matches (same parameters as Mailward's chosen
passwords, right device at a random position, no database time counted).

Rate limits are raised out of the way (the check itself still runs on every attempt).
Prints a table, writes JSON to bench/results/, and prints one JSON object last.

    python bench/auth.py --quick          # < 60 s
    python bench/auth.py                  # more samples, naive baseline up to 100
    python bench/auth.py --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import VerifyMismatchError

from mailward.auth.authenticator import Authenticator
from mailward.auth.interfaces import AuthenticatedDevice
from mailward.auth.limits import AuthLimits, Limit
from mailward.auth.runtime import close_authenticator
from mailward.bootstrap import Services, build_services
from mailward.core.access.actors import Actor
from mailward.core.passwords import (
    ARGON2_MEMORY_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    generate_password,
    lookup_hash,
)
from mailward.db.models import Device
from mailward.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
CHOSEN = "Quiet-Harbor-Lantern-47!"
UNLIMITED = AuthLimits(
    address_ip=Limit("address_ip.auth", 10**9, 60),
    ip=Limit("ip.auth", 10**9, 60),
    address=Limit("address.auth", 10**9, 60),
)


@dataclass
class Fixture:
    address: str
    generated: str  # the password of one generated device, at a random position
    chosen: str | None


@dataclass(frozen=True)
class Stats:
    p50_us: float
    p99_us: float
    ops_per_s: float
    samples: int

    def row(self) -> str:
        return f"{self.p50_us:>11.1f} {self.p99_us:>11.1f} {self.ops_per_s:>10.0f}"


def stats_of(durations: list[float], elapsed: float) -> Stats:
    ordered = sorted(durations)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Stats(statistics.median(ordered) * 1e6, p99 * 1e6, len(ordered) / elapsed, len(ordered))


async def measure(
    calls: dict[int, Callable[[], Awaitable[object]]], samples: int
) -> dict[int, Stats]:
    """Round-robin over the device counts, so that load from elsewhere on the machine
    weighs on every count alike; throughput is samples / time spent in the calls."""
    durations: dict[int, list[float]] = {n: [] for n in calls}
    for _ in range(samples):
        for n, call in calls.items():
            t0 = time.perf_counter()
            await call()
            durations[n].append(time.perf_counter() - t0)
    return {n: stats_of(d, sum(d)) for n, d in durations.items()}


async def make_address(services: Services, name: str, devices: int, chosen: bool) -> Fixture:
    """An address with ``devices`` devices; bulk-inserted generated ones, and (when
    ``chosen``) one chosen-password device made through the use case."""
    op = Actor.operator()
    view = await services.addresses.create_by_email(op, f"{name}@bench.test")
    generated_count = devices - 1 if chosen else devices
    passwords = [generate_password() for _ in range(generated_count)]
    now = services.clock.now()
    async with services.db.unit_of_work() as uow:
        uow.session.add_all(
            Device(
                address_id=view.id,
                name=f"device {i}",
                password_kind="generated",
                password_lookup=lookup_hash(services.keys, view.id, pw),
                password_key_id=services.keys.current_id,
                created_by="bench",
                created_at=now,
                password_changed_at=now,
            )
            for i, pw in enumerate(passwords)
        )
    if chosen:
        await services.devices.add(op, view.email, "chosen device", password=CHOSEN)
    return Fixture(
        view.email, random.choice(passwords) if passwords else "", CHOSEN if chosen else None
    )


async def login(auth: Authenticator, address: str, password: str, expect_ok: bool) -> None:
    result = await auth.authenticate(address, password, "imap", "192.0.2.10")
    if isinstance(result, AuthenticatedDevice) != expect_ok:
        raise SystemExit(f"unexpected result {result} for {address}")


async def wrong_login(auth: Authenticator, address: str) -> None:
    await login(auth, address, f"wrong-{random.random()}", False)


def naive_baseline(counts: list[int], samples: int) -> dict[int, Stats]:
    argon2 = Argon2(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
    )
    results = {}
    for count in counts:
        passwords = [generate_password() for _ in range(count)]
        hashes = [argon2.hash(pw) for pw in passwords]
        durations = []
        start = time.perf_counter()
        for _ in range(samples):
            wanted = random.choice(passwords)
            t0 = time.perf_counter()
            for stored in hashes:
                try:
                    argon2.verify(stored, wanted)
                    break
                except VerifyMismatchError:
                    continue
            durations.append(time.perf_counter() - t0)
        results[count] = stats_of(durations, time.perf_counter() - start)
    return results


async def run(args: argparse.Namespace) -> dict[str, object]:
    counts = [1, 10, 100, 1000]
    quick = args.quick
    n_fast, n_slow = (1000, 10) if quick else (5000, 60)
    naive_counts, naive_samples = ([1, 10], 12) if quick else ([1, 10, 100], 20)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", database_url=args.database_url)
        services = await build_services(settings)
        try:
            return await run_on(services, counts, n_fast, n_slow, naive_counts, naive_samples)
        finally:
            await services.close()


async def run_on(
    services: Services,
    counts: list[int],
    n_fast: int,
    n_slow: int,
    naive_counts: list[int],
    naive_samples: int,
) -> dict[str, object]:
    op = Actor.operator()
    await services.accounts.create(op, "owner@corp.test", None, "Bench owner")
    org = await services.organizations.create(op, "Bench", "owner@corp.test")
    await services.mail_services.create(op, org.id, "bench.test")
    gen = {n: await make_address(services, f"gen{n}", n, chosen=False) for n in counts}
    mix = {n: await make_address(services, f"mix{n}", n, chosen=True) for n in counts}
    auth = services.build_authenticator(limits=UNLIMITED)
    hasher = services.deps.mail_login_hasher
    table: dict[str, dict[str, dict[int, Stats]]] = {"cold": {}, "warm": {}}
    generated_argon2 = 0
    for mode, ttl in (("cold", 0.0), ("warm", 300.0)):
        auth.cache.ttl = ttl
        auth.cache.clear()
        rows: dict[str, dict[int, Stats]] = {"generated": {}, "chosen": {}, "wrong": {}}
        for n in counts:
            await login(auth, gen[n].address, gen[n].generated, True)  # warm-up
        before = hasher.verifications
        rows["generated"] = await measure(
            {n: partial(login, auth, gen[n].address, gen[n].generated, True) for n in counts},
            n_fast,
        )
        generated_argon2 += hasher.verifications - before
        rows["chosen"] = await measure(
            {n: partial(login, auth, mix[n].address, CHOSEN, True) for n in counts},
            n_slow if mode == "cold" else n_fast,
        )
        rows["wrong"] = await measure(
            {n: partial(wrong_login, auth, mix[n].address) for n in counts}, n_slow
        )
        table[mode] = rows
    await close_authenticator(auth)
    naive = naive_baseline(naive_counts, naive_samples)
    return report(table, naive, counts, generated_argon2, services.db.engine.dialect.name)


def report(
    table: dict[str, dict[str, dict[int, Stats]]],
    naive: dict[int, Stats],
    counts: list[int],
    generated_argon2: int,
    dialect: str,
) -> dict[str, object]:
    print(f"database: {dialect}; times in microseconds; one client, sequential logins")
    print(f"{'cache':<6} {'password':<10} {'devices':>7} {'p50':>11} {'p99':>11} {'logins/s':>10}")
    for mode, rows in table.items():
        for kind, by_count in rows.items():
            for n, s in by_count.items():
                print(f"{mode:<6} {kind:<10} {n:>7} {s.row()}")
    for n, s in naive.items():
        print(f"{'naive':<6} {'match':<10} {n:>7} {s.row()}")
    cold_gen = table["cold"]["generated"]
    warm_gen = table["warm"]["generated"]
    largest = counts[-1]
    summary: dict[str, object] = {
        "database": dialect,
        "ratio_flat": round(cold_gen[largest].p50_us / cold_gen[1].p50_us, 3),
        "ratio_flat_warm": round(warm_gen[largest].p50_us / warm_gen[1].p50_us, 3),
        "ratio_vs_naive_10": round(naive[10].p50_us / cold_gen[10].p50_us, 1),
        "ratio_vs_naive_10_warm": round(naive[10].p50_us / warm_gen[10].p50_us, 1),
        "argon2_calls_generated": generated_argon2,
        "naive_p50_us": {n: round(s.p50_us, 1) for n, s in naive.items()},
        "results": {
            mode: {
                kind: {n: s.__dict__ for n, s in by_count.items()}
                for kind, by_count in rows.items()
            }
            for mode, rows in table.items()
        },
    }
    print(
        f"flat: p50 at {largest} devices / p50 at 1 = {summary['ratio_flat']} (cold), "
        f"{summary['ratio_flat_warm']} (warm); naive at 10 / Mailward at 10 = "
        f"{summary['ratio_vs_naive_10']}x (cold), {summary['ratio_vs_naive_10_warm']}x (warm)"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (< 60 s)")
    parser.add_argument("--database-url", default=None, help="SQLite in a temp dir by default")
    args = parser.parse_args()
    started = time.perf_counter()
    summary = asyncio.run(run(args))
    summary["mode"] = "quick" if args.quick else "full"
    summary["seconds"] = round(time.perf_counter() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"auth-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(summary, indent=2))
    print(f"written to {out}", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}))


if __name__ == "__main__":
    main()
