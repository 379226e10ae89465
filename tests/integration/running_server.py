"""A real ``mailward serve`` process (SQLite, free 127.0.0.1 ports) with one account,
one organization and an API token: what the end-to-end script and schemathesis use."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailward.bootstrap import build_services
from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.settings import Settings
from tests.security.dns_server import DnsServer
from tests.support import ADMIN_PASSWORD, free_port

PORT_SETTINGS = (
    "HTTP_PORT",
    "IMAP_PORT",
    "IMAPS_PORT",
    "POP3_PORT",
    "POP3S_PORT",
    "SUBMISSION_PORT",
    "SUBMISSIONS_PORT",
    "SMTP_PORT",
    "AUTH_HTTP_PORT",
)
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class RunningServer:
    api: str
    token: str
    imaps_port: int
    env: dict[str, str]
    dns: DnsServer


async def _seed(env: dict[str, str]) -> str:
    """An organization Acme whose legal representative holds the returned token."""
    settings = Settings(
        data_dir=Path(env["MAILWARD_DATA_DIR"]), http_port=int(env["MAILWARD_HTTP_PORT"])
    )
    services = await build_services(settings)
    try:
        op = Actor.operator()
        owner = await services.accounts.create(op, "owner@acme.test", ADMIN_PASSWORD, "Olga")
        org = await services.organizations.create(op, "Acme", owner.email)
        actor = Actor(owner.id, owner.email)
        issued = await ApiTokenService(services.deps).create(actor, org.id, "provisioning")
        return issued.secret
    finally:
        await services.close()


def _wait_ready(process: subprocess.Popen[str], errors: Path) -> None:
    """Wait for serve's ready line. A serve that exits or stays silent is Mailward
    broken, not a missing server: the test fails with what serve wrote to stderr."""
    ready = threading.Event()

    def watch() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "ready" in line:
                ready.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.is_set() and watcher.is_alive() and time.monotonic() < deadline:
        ready.wait(0.1)
    if not ready.is_set():
        process.kill()
        process.wait()
        tail = errors.read_text(errors="replace")[-4000:]
        code = process.returncode
        pytest.fail(f"mailward serve did not print its ready line (exit {code}):\n{tail}")


def run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """serve running for a module (the ``server`` fixture); stopped afterwards."""
    data_dir = tmp_path_factory.mktemp("api-server") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env.update({f"MAILWARD_{name}": str(free_port()) for name in PORT_SETTINGS})
    env.update(MAILWARD_DATA_DIR=str(data_dir), MAILWARD_HOSTNAME="localhost")
    # schemathesis sends thousands of requests from one IP within a minute.
    env["MAILWARD_API_REQUESTS_PER_MINUTE"] = "1000000"
    dns = DnsServer(data_dir.parent)  # domain verification asks this one, nothing outside
    dns.publish({})
    env["MAILWARD_DNS_RESOLVERS"] = json.dumps([dns.resolver])
    env["MAILWARD_DNS_TIMEOUT_SECONDS"] = "1"
    token = asyncio.run(_seed(env))
    errors = data_dir.parent / "serve.stderr"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailward.serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        _wait_ready(process, errors)
        api = f"http://127.0.0.1:{env['MAILWARD_HTTP_PORT']}/api/v1"
        yield RunningServer(api, token, int(env["MAILWARD_IMAPS_PORT"]), env, dns)
    finally:
        dns.stop()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
