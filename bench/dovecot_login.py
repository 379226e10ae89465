"""Login throughput: Dovecot through Mailward vs Dovecot's own passwd-file (Argon2id and
SHA256) vs Mailward's embedded IMAP server. One run, one machine, one certificate, one
load generator (bench/login_load.py): 16 concurrent clients, each doing connect + TLS +
LOGIN + LOGOUT over implicit TLS.

All four servers run side by side for the whole run; the targets are measured in turn,
round after round (each after a warm-up second), so that a passing burst of other work
on this shared machine falls on every target alike. Each target's figure is the median
of its rounds.

    python bench/dovecot_login.py [--quick] [--rounds N] [--seconds N] [--no-docs]

Needs root, Dovecot (dovecot-imapd, dovecot-auth-lua), PostgreSQL and Redis as for the
tests. Writes docs/BENCHMARKS.md and docs/bench-dovecot-login.png (matplotlib: the
``bench`` extra). The last line printed is one JSON object of logins per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from login_load import CLIENTS, Sample, measure  # noqa: E402
from tests.integration.dataplane import start_node, wait_for_port  # noqa: E402
from tests.support import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

from mailward.bootstrap import build_services  # noqa: E402
from mailward.core.access.actors import Actor  # noqa: E402
from mailward.integrations.dovecot import write_dovecot_config  # noqa: E402
from mailward.integrations.options import DataPlaneOptions  # noqa: E402
from mailward.integrations.tls import make_self_signed  # noqa: E402
from mailward.settings import Settings  # noqa: E402

DOMAIN = "bench.test"
TARGETS = ("mailward_dovecot", "dovecot_argon2id", "dovecot_sha256", "embedded")
LABELS = {
    "mailward_dovecot": "(a) Dovecot, Lua passdb -> Mailward",
    "dovecot_argon2id": "(b) Dovecot, passwd-file ARGON2ID",
    "dovecot_sha256": "(c) Dovecot, passwd-file SHA256",
    "embedded": "(d) Mailward embedded IMAP",
}
# Before the first round, each target is warmed for longer than Dovecot's HTTP client
# waits for a "100 Continue" that Mailward's endpoint never sends (2 s, once per Lua
# auth worker connection): otherwise (a)'s first round pays 16 such waits. Production
# pays them once per worker after 60 s of quiet (docs/PRODUCTION.md).
FIRST_WARM_UP = 3.0
LUA_PASSDB = re.compile(r"passdb \{\n  driver = lua\n.*?\n\}", re.S)
Accounts = list[tuple[str, str]]


@dataclass
class Target:
    """A running server: where to log in, and whose CPU time is its cost."""

    name: str
    port: int
    server_parts: dict[str, list[int]]
    samples: list[Sample] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [s.rate for s in self.samples]

    @property
    def rate(self) -> float:
        return statistics.median(self.rates()) if self.samples else 0.0

    @property
    def logins(self) -> int:
        return sum(s.logins for s in self.samples)

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.samples)

    def percentile(self, share: float) -> float:
        ordered = sorted(x for s in self.samples for x in s.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0

    def cpu_ms_per_login(self, part: str | None = None) -> float:
        """Server CPU a login, of one part or of all."""
        cpu = sum(v for s in self.samples for p, v in s.cpu.items() if part in (None, p))
        return 1000 * cpu / max(1, self.logins)


# -- the servers ---------------------------------------------------------------------------


async def add_devices(settings: Settings) -> Accounts:
    services = await build_services(settings)
    op = Actor.operator()
    try:
        account = await services.accounts.create(op, "boss@corp.test", "bench password 123456")
        org = await services.organizations.create(op, "Bench", legal_representative=account.email)
        await services.mail_services.create(op, org.id, DOMAIN)
        accounts = []
        for number in range(CLIENTS):
            address = f"user{number:02d}@{DOMAIN}"
            await services.addresses.create_by_email(op, address)
            accounts.append((address, (await services.devices.add(op, address, "bench")).password))
        return accounts
    finally:
        await services.close()


def bench_settings(root: Path, database_url: str) -> Settings:
    cert, key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
    make_self_signed("mail.bench.test", cert, key)
    ports: tuple[str, ...] = (
        "auth_http_port",
        "imap_port",
        "imaps_port",
        "pop3_port",
        "pop3s_port",
    )
    ports += ("http_port", "submission_port", "submissions_port", "smtp_port", "socketmap_port")
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        redis_url="redis://127.0.0.1:6379/0",
        auth_http_secret="bench-secret-0123456789abcdef0123456789",  # type: ignore[arg-type]
        tls_cert_file=cert,
        tls_key_file=key,
        hostname="mail.bench.test",
        **{name: free_port() for name in ports},  # type: ignore[arg-type]
    )


def with_own_ports(settings: Settings, *names: str) -> Settings:
    """The same settings with other client-facing ports (and ``names``): one more server
    beside the rest."""
    names += ("imap_port", "imaps_port", "pop3_port", "pop3s_port")
    return settings.model_copy(update={name: free_port() for name in names})


def dovecot_hash(scheme: str, password: str) -> str:
    command = ["doveadm", "pw", "-s", scheme, "-p", password]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def use_passwd_file(conf: Path, accounts: Accounts, scheme: str) -> None:
    """The generated configuration, with Dovecot's own passwd-file as the passdb."""
    passwd = conf.parent / f"users.{scheme.lower()}"
    passwd.write_text("".join(f"{u}:{dovecot_hash(scheme, p)}\n" for u, p in accounts))
    passwd.chmod(0o644)
    passdb = f"passdb {{\n  driver = passwd-file\n  args = {passwd}\n}}"
    conf.write_text(LUA_PASSDB.sub(lambda _: passdb, conf.read_text()))


@contextmanager
def dovecot(settings: Settings, directory: Path, name: str) -> Iterator[tuple[Path, int]]:
    """The generated Dovecot configuration in ``directory``, running; yields the
    configuration file and the implicit-TLS IMAP port."""
    own = with_own_ports(settings)
    options = DataPlaneOptions(
        lmtp_port=free_port(),
        sasl_port=free_port(),
        mail_root=directory.parent / "mail",
        instance_name=f"mailward-bench-{name}",
    )
    conf = write_dovecot_config(own, directory, options)[0]
    try:
        yield conf, own.imaps_port
    finally:
        subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True, check=False)
        pid = conf.parent / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def start_dovecot(conf: Path, port: int) -> int:
    """Start Dovecot; its master's process id. (The daemon keeps the standard streams it
    was given: a file, not ours, or a caller piping our output would wait for it.)"""
    errors = conf.with_name("start-errors.txt")
    with errors.open("w") as sink:
        started = subprocess.run(["dovecot", "-c", str(conf)], stdout=sink, stderr=sink)
    if started.returncode != 0:
        raise RuntimeError(f"dovecot -c {conf} failed: {errors.read_text()}")
    wait_for_port(port)
    pid_file = conf.parent / "run" / "master.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(pid_file.read_text())


def start_targets(
    stack: ExitStack, settings: Settings, root: Path, accounts: Accounts
) -> list[Target]:
    """All four servers, running; stopped when ``stack`` closes."""
    agent = start_node(settings, "integrate", "agent")
    stack.callback(agent.stop)
    targets = []
    for name, scheme in zip(TARGETS[:3], (None, "ARGON2ID", "SHA256"), strict=True):
        conf, port = stack.enter_context(dovecot(settings, root / name, name))
        if scheme is not None:
            use_passwd_file(conf, accounts, scheme)
        master = start_dovecot(conf, port)
        parts = {"dovecot": [master]}
        if scheme is None:  # (a) costs Dovecot's work and Mailward's answers
            parts["mailward"] = [agent.process.pid]
        targets.append(Target(name, port, parts))
    embedded = with_own_ports(settings, "http_port", "auth_http_port", "socketmap_port")
    node = start_node(embedded)
    stack.callback(node.stop)
    targets.append(Target("embedded", embedded.imaps_port, {"mailward": [node.process.pid]}))
    time.sleep(1.0)  # let process_min_avail processes start
    return targets


# -- one run ---------------------------------------------------------------------------------


def run(rounds: int, seconds: float) -> list[Target]:
    root = Path(tempfile.mkdtemp(prefix="mwbench", dir="/tmp"))
    root.chmod(0o755)
    database_url = asyncio.run(create_postgres_database())
    try:
        settings = bench_settings(root, database_url)
        accounts = asyncio.run(add_devices(settings))
        with ExitStack() as stack:
            targets = start_targets(stack, settings, root, accounts)
            for target in targets:  # not counted; see FIRST_WARM_UP
                measure(target.port, accounts, 0.5, {}, warm_up=FIRST_WARM_UP)
            for number in range(rounds):
                for target in targets:
                    sample = measure(target.port, accounts, seconds, target.server_parts)
                    target.samples.append(sample)
                    print(f"round {number + 1}: {target.name} {sample.rate:.1f}/s", flush=True)
        return targets
    finally:
        asyncio.run(drop_postgres_database(database_url))
        subprocess.run(["rm", "-rf", str(root)], check=False)


# -- reporting ------------------------------------------------------------------------------


def table(targets: list[Target]) -> str:
    rows = [
        "| target | logins/s (median) | rounds min-max | p50 ms | p99 ms | server CPU ms a login "
        "| logins | failures |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in targets:
        rates = t.rates()
        rows.append(
            f"| {LABELS[t.name]} | {t.rate:.1f} | {min(rates):.0f}-{max(rates):.0f} | "
            f"{t.percentile(0.5):.1f} | {t.percentile(0.99):.1f} | {t.cpu_ms_per_login():.2f} | "
            f"{t.logins} | {t.failures} |"
        )
    return "\n".join(rows)


def ratios(targets: list[Target]) -> str:
    by_name = {t.name: t for t in targets}
    a, b, c = (by_name[name] for name in TARGETS[:3])
    per_round = ", ".join(
        f"{x.rate / y.rate:.2f}" for x, y in zip(a.samples, c.samples, strict=True) if y.rate
    )
    return (
        f"(a)/(b) = {a.rate / b.rate if b.rate else float('inf'):.1f} (target >= 15); "
        f"(a)/(c) = {a.rate / c.rate if c.rate else 0:.2f} (target >= 1.0; "
        f"round by round: {per_round})"
    )


def cost(targets: list[Target]) -> str:
    """Where (a)'s extra cost over (c) goes, in server CPU a login."""
    by_name = {t.name: t for t in targets}
    a, c = by_name["mailward_dovecot"], by_name["dovecot_sha256"]
    extra = a.cpu_ms_per_login() - c.cpu_ms_per_login()
    dovecot_extra = a.cpu_ms_per_login("dovecot") - c.cpu_ms_per_login("dovecot")
    return (
        f"(a) costs {extra:.2f} ms of server CPU a login more than (c): "
        f"{a.cpu_ms_per_login('mailward'):.2f} ms in Mailward's node (HTTP, credential "
        f"cache; a cached login asks no rate limit) and {dovecot_extra:.2f} ms more in "
        "Dovecot (the Lua passdb, its HTTP client and the auth-worker hop, against a "
        "passwd-file read in the auth process)."
    )


def load_average() -> str:
    with open("/proc/loadavg") as handle:
        return " / ".join(handle.read().split()[:3])


LOAD_AT_START = load_average()


def plot(targets: list[Target], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 3.6))
    labels = [LABELS[t.name] for t in targets]
    rates = [t.rate for t in targets]
    below = [t.rate - min(t.rates()) for t in targets]
    above = [max(t.rates()) - t.rate for t in targets]
    colors = ["#2b6cb0", "#c53030", "#718096", "#2f855a"]
    axes.barh(labels, rates, xerr=[below, above], color=colors, capsize=3)
    axes.invert_yaxis()
    axes.set_xlabel(f"logins per second, median of rounds ({CLIENTS} clients, implicit TLS)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_docs(targets: list[Target], rounds: int, seconds: float, command: str) -> None:
    docs = ROOT / "docs"
    has_plot = plot(targets, docs / "bench-dovecot-login.png")
    text = [
        "# Benchmarks",
        "",
        "## IMAP logins: Dovecot through Mailward vs Dovecot alone vs the embedded server",
        "",
        f"Regenerated by `{command}`: {rounds} rounds of {seconds:g} s a target, the four",
        "servers running side by side and measured in turn after a warm-up second;",
        f"{CLIENTS} concurrent clients, each connect + TLS + LOGIN + LOGOUT on the",
        "implicit-TLS port; one certificate; the load generator on the same "
        f"{os.cpu_count()} cores.",
        "\"Server CPU\" is the CPU time of the server's processes (Dovecot's master and",
        "everything it forks; for (a) also the Mailward node answering the Lua passdb;",
        "for (d) the `mailward serve` process) divided by the logins.",
        "",
        table(targets),
        "",
        ratios(targets),
        "",
        cost(targets),
        "",
        f"Load average {LOAD_AT_START} before the run (the machine is shared; the run",
        f"itself brings it to {load_average()}): compare ratios within one run, not",
        "across runs.",
        "",
    ]
    if has_plot:
        text += ["![logins per second](bench-dovecot-login.png)", ""]
    (docs / "BENCHMARKS.md").write_text("\n".join(text))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 5 s (under 3 minutes)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/")
    args = parser.parse_args()
    rounds = max(1, args.rounds or (3 if args.quick else 5))
    seconds = args.seconds or (5.0 if args.quick else 10.0)
    targets = run(rounds, seconds)
    print(table(targets))
    print(ratios(targets))
    print(cost(targets))
    if not args.no_docs:
        command = "python " + " ".join(["bench/dovecot_login.py", *sys.argv[1:]])
        write_docs(targets, rounds, seconds, command)
    print(json.dumps({t.name: round(t.rate, 1) for t in targets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
