"""A real ``mailward serve`` process (SQLite, free 127.0.0.1 ports) with one account,
one organization and an API token: what the end-to-end script and schemathesis use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailward.bootstrap import build_services
from mailward.core.access.actors import Actor
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.settings import Settings
from tests.integration.serve_process import running_serve, serve_env
from tests.security.dns_server import DnsServer
from tests.support import ADMIN_PASSWORD


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


def run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """serve running for a module (the ``server`` fixture); stopped afterwards."""
    data_dir = tmp_path_factory.mktemp("api-server") / "data"
    # schemathesis sends thousands of requests from one IP within a minute.
    env = serve_env(data_dir, api_requests_per_minute="1000000")
    dns = DnsServer(data_dir.parent)  # domain verification asks this one, nothing outside
    dns.publish({})
    env["MAILWARD_DNS_RESOLVERS"] = json.dumps([dns.resolver])
    env["MAILWARD_DNS_TIMEOUT_SECONDS"] = "1"
    token = asyncio.run(_seed(env))
    try:
        with running_serve(env, data_dir.parent / "serve.stderr"):
            api = f"http://127.0.0.1:{env['MAILWARD_HTTP_PORT']}/api/v1"
            yield RunningServer(api, token, int(env["MAILWARD_IMAPS_PORT"]), env, dns)
    finally:
        dns.stop()
