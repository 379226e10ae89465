"""Login throughput: Dovecot through Mailward vs Dovecot's own passwd-file (Argon2id and
SHA256) vs Mailward's embedded IMAP server. One run, one machine, one certificate, one
load generator: 16 concurrent clients, each doing connect + TLS + LOGIN + LOGOUT over
implicit TLS, for a fixed time.

    python bench/dovecot_login.py [--quick] [--seconds N] [--no-docs]

Needs root, Dovecot (dovecot-imapd, dovecot-auth-lua), PostgreSQL and Redis as for the
tests. Writes docs/BENCHMARKS.md and docs/bench-dovecot-login.png (matplotlib: the
``bench`` extra). The last line printed is one JSON object of logins per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.dataplane import (  # noqa: E402
    settings_env,
    start_node,
    wait_for_port,
)
from tests.support import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    free_port,
)

from mailward.bootstrap import build_services  # noqa: E402
from mailward.core.actors import Actor  # noqa: E402
from mailward.integrations.dovecot import write_dovecot_config  # noqa: E402
from mailward.integrations.options import DataPlaneOptions  # noqa: E402
from mailward.integrations.tls import make_self_signed  # noqa: E402
from mailward.settings import Settings  # noqa: E402

CLIENTS = 16
DOMAIN = "bench.test"
TARGETS = ("mailward_dovecot", "dovecot_argon2id", "dovecot_sha256", "embedded")
LABELS = {
    "mailward_dovecot": "(a) Dovecot, Lua passdb -> Mailward",
    "dovecot_argon2id": "(b) Dovecot, passwd-file ARGON2ID",
    "dovecot_sha256": "(c) Dovecot, passwd-file SHA256",
    "embedded": "(d) Mailward embedded IMAP",
}
LUA_PASSDB = re.compile(r"passdb \{\n  driver = lua\n.*?\n\}", re.S)


@dataclass
class Result:
    target: str
    logins: int = 0
    failures: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.logins / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


# -- the load generator ------------------------------------------------------------------


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def one_login(port: int, tls: ssl.SSLContext, user: str, password: str) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    try:
        await reader.readline()
        writer.write(f"a LOGIN {quote(user)} {quote(password)}\r\n".encode())
        ok = await _tagged(reader, b"a ")
        writer.write(b"b LOGOUT\r\n")
        await _tagged(reader, b"b ")
        return ok
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def _tagged(reader: asyncio.StreamReader, tag: bytes) -> bool:
    while line := await reader.readline():
        if line.startswith(tag):
            return line[len(tag) :].startswith(b"OK")
    return False


async def client_loop(
    port: int, tls: ssl.SSLContext, user: str, password: str, until: float, result: Result
) -> None:
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            ok = await asyncio.wait_for(one_login(port, tls, user, password), 30)
        except (OSError, TimeoutError, ssl.SSLError):
            ok = False
        if ok:
            result.logins += 1
            result.latencies.append(time.monotonic() - start)
        else:
            result.failures += 1


async def measure(target: str, port: int, users: dict[str, str], seconds: float) -> Result:
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    result = Result(target)
    accounts = list(users.items())
    await one_login(port, tls, *accounts[0])  # warm up
    start = time.monotonic()
    until = start + seconds
    await asyncio.gather(
        *(
            client_loop(port, tls, *accounts[i % len(accounts)], until, result)
            for i in range(CLIENTS)
        )
    )
    result.seconds = time.monotonic() - start
    return result


# -- the servers ---------------------------------------------------------------------------


async def add_devices(settings: Settings) -> dict[str, str]:
    services = await build_services(settings)
    op = Actor.operator()
    try:
        account = await services.accounts.create(op, "boss@corp.test", "bench password 123456")
        org = await services.organizations.create(op, "Bench", legal_representative=account.email)
        await services.mail_services.create(op, org.id, DOMAIN)
        users = {}
        for number in range(CLIENTS):
            address = f"user{number:02d}@{DOMAIN}"
            await services.addresses.create_by_email(op, address)
            users[address] = (await services.devices.add(op, address, "bench")).password
        return users
    finally:
        await services.close()


def dovecot_hash(scheme: str, password: str) -> str:
    command = ["doveadm", "pw", "-s", scheme, "-p", password]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def passwd_file_config(conf: Path, users: dict[str, str], scheme: str) -> Path:
    """The same generated configuration with Dovecot's own passwd-file as the passdb."""
    passwd = conf.parent / f"users.{scheme.lower()}"
    passwd.write_text("".join(f"{u}:{dovecot_hash(scheme, p)}\n" for u, p in users.items()))
    passwd.chmod(0o644)
    passdb = f"passdb {{\n  driver = passwd-file\n  args = {passwd}\n}}"
    text = LUA_PASSDB.sub(lambda _: passdb, conf.read_text())
    target = conf.with_name(f"dovecot-{scheme.lower()}.conf")
    target.write_text(text)
    return target


def run_dovecot(conf: Path, port: int) -> None:
    subprocess.run(["dovecot", "-c", str(conf)], check=True)
    wait_for_port(port)
    time.sleep(1.0)  # let process_min_avail processes start


def stop_dovecot(conf: Path) -> None:
    subprocess.run(["doveadm", "-c", str(conf), "stop"], capture_output=True)
    pid = conf.parent / "run" / "master.pid"
    deadline = time.monotonic() + 10
    while pid.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def start_embedded(settings: Settings) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mailward.cli", "serve"],
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "ready" in line:
            return process
    raise RuntimeError("mailward serve did not start")


def stop_process(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


# -- one run ---------------------------------------------------------------------------------


def bench_settings(root: Path, database_url: str) -> Settings:
    cert, key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
    make_self_signed("mail.bench.test", cert, key)
    ports = ("auth_http_port", "imap_port", "imaps_port", "pop3_port", "pop3s_port")
    mail_ports = ("http_port", "submission_port", "submissions_port", "smtp_port")
    mail_ports += ("socketmap_port",)
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        redis_url="redis://127.0.0.1:6379/0",
        auth_http_secret="bench-secret-0123456789abcdef0123456789",  # type: ignore[arg-type]
        tls_cert_file=cert,
        tls_key_file=key,
        hostname="mail.bench.test",
        **{name: free_port() for name in (*ports, *mail_ports)},  # type: ignore[arg-type]
    )


def run_dovecot_targets(
    settings: Settings, root: Path, users: dict[str, str], seconds: float
) -> list[Result]:
    options = DataPlaneOptions(
        lmtp_port=free_port(), sasl_port=free_port(), mail_root=root / "mail"
    )
    conf = write_dovecot_config(settings, root / "dovecot", options)[0]
    results = []
    agent = start_node(settings, "integrate", "agent")
    try:
        run_dovecot(conf, settings.imaps_port)
        try:
            results.append(asyncio.run(measure(TARGETS[0], settings.imaps_port, users, seconds)))
        finally:
            stop_dovecot(conf)
    finally:
        agent.stop()
    for scheme, target in (("ARGON2ID", TARGETS[1]), ("SHA256", TARGETS[2])):
        other = passwd_file_config(conf, users, scheme)
        run_dovecot(other, settings.imaps_port)
        try:
            results.append(asyncio.run(measure(target, settings.imaps_port, users, seconds)))
        finally:
            stop_dovecot(other)
    return results


def run_embedded_target(settings: Settings, users: dict[str, str], seconds: float) -> Result:
    embedded = settings.model_copy(update={"imaps_port": free_port(), "imap_port": free_port()})
    process = start_embedded(embedded)
    try:
        return asyncio.run(measure(TARGETS[3], embedded.imaps_port, users, seconds))
    finally:
        stop_process(process)


def run(seconds: float) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="mwbench", dir="/tmp"))
    root.chmod(0o755)
    database_url = asyncio.run(create_postgres_database())
    try:
        settings = bench_settings(root, database_url)
        users = asyncio.run(add_devices(settings))
        results = run_dovecot_targets(settings, root, users, seconds)
        results.append(run_embedded_target(settings, users, seconds))
        return results
    finally:
        asyncio.run(drop_postgres_database(database_url))
        subprocess.run(["rm", "-rf", str(root)], check=False)


# -- reporting ------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    rows = [
        "| target | logins/s | p50 ms | p99 ms | logins | failures |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows.append(
            f"| {LABELS[r.target]} | {r.rate:.1f} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.99):.1f} | {r.logins} | {r.failures} |"
        )
    return "\n".join(rows)


def ratios(results: list[Result]) -> str:
    rate = {r.target: r.rate for r in results}
    a = rate["mailward_dovecot"]
    b, c = rate["dovecot_argon2id"], rate["dovecot_sha256"]
    return (
        f"(a)/(b) = {a / b if b else float('inf'):.1f} (target >= 15); "
        f"(a)/(c) = {a / c if c else 0:.2f} (target >= 0.85)"
    )


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


LOAD_AT_START = load_average()


def plot(results: list[Result], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 3.6))
    labels = [LABELS[r.target] for r in results]
    axes.barh(labels, [r.rate for r in results], color=["#2b6cb0", "#c53030", "#718096", "#2f855a"])
    axes.invert_yaxis()
    axes.set_xlabel(f"logins per second ({CLIENTS} clients, implicit TLS, LOGIN + LOGOUT)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_docs(results: list[Result], seconds: float, command: str) -> None:
    docs = ROOT / "docs"
    image = docs / "bench-dovecot-login.png"
    has_plot = plot(results, image)
    text = [
        "# Benchmarks",
        "",
        "## IMAP logins: Dovecot through Mailward vs Dovecot alone vs the embedded server",
        "",
        f"Regenerated by `{command}` ({seconds:g} s a target, {CLIENTS} concurrent",
        "clients, each connect + TLS + LOGIN + LOGOUT on the implicit-TLS port, one",
        f"certificate, {os.cpu_count()} cores, load generator on the same machine).",
        "",
        table(results),
        "",
        ratios(results),
        "",
        "The load generator shares the cores with the servers, and the machine may be",
        f"busy with other work (load average {LOAD_AT_START} at the start, "
        f"{load_average()} at the end): compare ratios within one run, not across runs.",
        "",
    ]
    if has_plot:
        text += ["![logins per second](bench-dovecot-login.png)", ""]
    (docs / "BENCHMARKS.md").write_text("\n".join(text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 s a target (under 3 minutes)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/")
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    results = run(seconds)
    print(table(results))
    print(ratios(results))
    if not args.no_docs:
        write_docs(
            results, seconds, "python " + " ".join(["bench/dovecot_login.py", *sys.argv[1:]])
        )
    print(json.dumps({r.target: round(r.rate, 1) for r in results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
