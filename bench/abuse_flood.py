"""Login floods and password cost, measured through authenticate() (findings 3 and 4).

    python bench/abuse_flood.py [--quick]        (or through bench/abuse.py)

One Mailward (SQLite, memory counters, the default limits, Argon2id pools and queue
bounds) on this machine. authenticate() is called directly, with synthetic client
IPs: real clients on loopback could only come from 127.0.0.0/8 and ::1.

- flood_legit_*: real devices (generated passwords), half from their known IP, half
  from a fresh IP each time, one login every 2 ms, each timed from its scheduled
  moment (a busy event loop that starts it late counts); first alone (the baseline),
  then while 64 attackers send 20,000 wrong logins (5,000 with --quick) from 1,000
  IPs (500 IPv4, 500 IPv6 in distinct /64s) at 2,000 a second (finding 3's flood came
  at 680 a second): half to unknown addresses, the rest to the real addresses and to
  one with 5 chosen-password devices. The credential cache is off, so every real
  login reads the database. Targets: no failure, p99 <= 3 x baseline.
- wrong_pw_cost_ratio: median time of a wrong password against the address with 5
  chosen-password devices / against an unknown address, interleaved. Target <= 1.2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.integration.auth_devices import CHOSEN_PASSWORDS as CHOSEN  # noqa: E402

from mailward.auth.authenticator import Authenticator  # noqa: E402
from mailward.auth.interfaces import AuthenticatedDevice, AuthFailure  # noqa: E402
from mailward.auth.runtime import close_authenticator  # noqa: E402
from mailward.bootstrap import Services, build_services  # noqa: E402
from mailward.core.access.actors import Actor  # noqa: E402
from mailward.settings import Settings  # noqa: E402

DOMAIN = "flood.test"
ATTACKERS = 64
FLOOD_RATE = 2000.0  # wrong logins offered a second: 3 x the rate of finding 3
LEGIT_PAUSE = 0.002


def attacker_ip(n: int) -> str:
    if n % 2:
        return f"2001:db8:{n // 256:x}:{n % 256:x}::{n:x}"
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


async def populate(services: Services, devices: int) -> list[tuple[str, str]]:
    """``devices`` addresses with one generated device each, and five@ with 5 chosen."""
    op = Actor.operator()
    await services.accounts.create(op, "owner@corp.test", None, "Bench owner")
    org = await services.organizations.create(op, "Bench", "owner@corp.test")
    await services.mail_services.create(op, org.id, DOMAIN)
    legit = []
    for i in range(devices):
        email = f"user{i}@{DOMAIN}"
        await services.addresses.create_by_email(op, email)
        new = await services.devices.add(op, email, "Phone")
        legit.append((email, new.password))
    await services.addresses.create_by_email(op, f"five@{DOMAIN}")
    for i, password in enumerate(CHOSEN):
        await services.devices.add(op, f"five@{DOMAIN}", f"Laptop {i}", password=password)
    return legit


async def legit_logins(
    auth: Authenticator, legit: list[tuple[str, str]], count: int, stop: asyncio.Event | None
) -> tuple[list[float], int]:
    """Real devices logging in on a fixed schedule, one every ``LEGIT_PAUSE`` seconds;
    each latency runs from the login's scheduled time (so a busy event loop that
    starts it late counts), in seconds; and the failures."""
    latencies: list[float] = []
    failures = 0
    start = time.perf_counter()
    for i in range(count):
        if stop is not None and stop.is_set():
            break
        due = start + i * LEGIT_PAUSE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        email, password = legit[i % len(legit)]
        ip = f"192.0.2.{i % len(legit)}" if i % 2 else f"198.18.{i // 256 % 256}.{i % 256}"
        result = await auth.authenticate(email, password, "imap", ip)
        latencies.append(time.perf_counter() - due)
        failures += not isinstance(result, AuthenticatedDevice)
    return latencies, failures


async def flood(auth: Authenticator, legit: list[tuple[str, str]], total: int) -> dict[str, int]:
    """``total`` wrong logins from 1,000 IPs, offered at ``FLOOD_RATE`` a second by
    ``ATTACKERS`` concurrent senders (each waits for its answer)."""
    answers: dict[str, int] = {}
    sent = 0

    start = time.perf_counter()

    async def attacker() -> None:
        nonlocal sent
        while sent < total:
            n = sent
            sent += 1
            await asyncio.sleep(max(0.0, start + n / FLOOD_RATE - time.perf_counter()))
            kind = n % 10
            email = (
                f"nobody{n}@{DOMAIN}"
                if kind < 5
                else f"five@{DOMAIN}"
                if kind == 9
                else legit[n % len(legit)][0]
            )
            result = await auth.authenticate(email, f"Wrong-{n}-pw!", "imap", attacker_ip(n % 1000))
            key = str(result.reason) if isinstance(result, AuthFailure) else "accepted"
            answers[key] = answers.get(key, 0) + 1

    await asyncio.gather(*(attacker() for _ in range(ATTACKERS)))
    return answers


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def flood_figures(
    auth: Authenticator, legit: list[tuple[str, str]], quick: bool
) -> dict[str, float]:
    total = 5_000 if quick else 20_000
    baseline, base_failures = await legit_logins(auth, legit, total // 4, None)
    stop = asyncio.Event()
    legit_task = asyncio.create_task(legit_logins(auth, legit, 100_000, stop))
    started = time.perf_counter()
    answers = await flood(auth, legit, total)
    flood_seconds = time.perf_counter() - started
    stop.set()
    during, failures = await legit_task
    print(
        f"flood: {total} wrong logins in {flood_seconds:.1f} s, answers {answers}", file=sys.stderr
    )
    base, loaded = p99(baseline) * 1000, p99(during) * 1000
    return {
        "flood_legit_baseline_p99_ms": base,
        "flood_legit_p99_ms": loaded,
        "flood_legit_p99_ratio": loaded / base,
        "flood_legit_failures": float(failures + base_failures),
        "flood_legit_logins": float(len(during)),
        "flood_wrong_logins_per_s": total / flood_seconds,
        "flood_wrong_logins_argon2id": float(answers.get("wrong_credentials", 0)),
    }


async def cost_ratio(auth: Authenticator, samples: int) -> dict[str, float]:
    """Wrong passwords, interleaved: the 5-chosen address and an unknown one."""
    times: dict[str, list[float]] = {"five": [], "unknown": []}
    for i in range(samples):
        for kind in times:
            email = f"{kind}@{DOMAIN}" if kind == "five" else f"nobody-cost{i}@{DOMAIN}"
            started = time.perf_counter()
            result = await auth.authenticate(
                email, f"Cost-{i}-guess!", "imap", f"172.16.{i}.{len(kind)}"
            )
            times[kind].append(time.perf_counter() - started)
            assert isinstance(result, AuthFailure), result
    five, unknown = statistics.median(times["five"]), statistics.median(times["unknown"])
    print(
        f"wrong password: 5 chosen {five * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms",
        file=sys.stderr,
    )
    return {"wrong_pw_cost_ratio": five / unknown}


async def measure(quick: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", credential_cache_seconds=0)
        services = await build_services(settings)
        auth = services.build_authenticator()
        try:
            legit = await populate(services, 20)
            results = await cost_ratio(auth, 20 if quick else 60)
            results.update(await flood_figures(auth, legit, quick))
        finally:
            await close_authenticator(auth)
            await services.close()
    results["load_average_1min"] = os.getloadavg()[0]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.quick))
    for key, value in results.items():
        print(f"{key:<28} {value:>10.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
