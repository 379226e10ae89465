"""A real ``mailward serve`` process on free loopback ports: its environment, its start
(up to its ready line) and its stop, for every test that runs one; and ``serve_process``,
serve over a data directory seeded with the test world (organization Corp,
example.test, info@example.test) and one generated device password, for the tests of
what an operator runs beside it (Prometheus, an ACME server)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailward.settings import Settings
from tests.support import free_port, make_world, open_services

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
STOP_SECONDS = 20


def wait_ready(process: subprocess.Popen[str], errors: Path) -> None:
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


@contextmanager
def running_serve(env: dict[str, str], errors: Path) -> Iterator[subprocess.Popen[str]]:
    """``mailward serve`` with ``env``, its stderr in ``errors``: yielded once ready,
    stopped (killed if it does not stop in time) afterwards."""
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailward.serve"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        wait_ready(process, errors)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


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
    with running_serve(env, errors) as process:
        yield ServeProcess(env, password, "info@example.test", errors, process)
