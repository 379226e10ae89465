"""A real ``mailward serve`` process on free loopback ports, over a data directory
seeded with the test world (organization Corp, example.test, info@example.test) and one
generated device password: for the tests of what an operator runs beside it
(Prometheus, an ACME server)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mailward.settings import Settings
from tests.integration.running_server import PORT_SETTINGS, _wait_ready
from tests.support import free_port, make_world, open_services

STOP_SECONDS = 15


@dataclass(frozen=True)
class ServeProcess:
    env: dict[str, str]
    password: str
    address: str
    stderr: Path
    process: subprocess.Popen[str]

    def port(self, name: str) -> int:
        return int(self.env[f"MAILWARD_{name.upper()}_PORT"])


async def _seed(env: dict[str, str]) -> str:
    services = await open_services(Settings(data_dir=Path(env["MAILWARD_DATA_DIR"])))
    try:
        world = await make_world(services)
        created = await services.devices.add(world.admin, world.address, "Metrics phone")
        return created.password
    finally:
        await services.close()


def serve_env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    env.update({f"MAILWARD_{name}": str(free_port()) for name in PORT_SETTINGS})
    env.update(MAILWARD_DATA_DIR=str(data_dir), MAILWARD_HOSTNAME="localhost")
    env.update({f"MAILWARD_{k.upper()}": v for k, v in settings.items()})
    return env


@contextmanager
def serve_process(data_dir: Path, **settings: str) -> Iterator[ServeProcess]:
    """serve on a seeded data directory with ``settings`` (``name="value"``) set."""
    env = serve_env(data_dir, **settings)
    password = asyncio.run(_seed(env))
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
        yield ServeProcess(env, password, "info@example.test", errors, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
