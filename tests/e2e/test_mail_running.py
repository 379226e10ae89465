"""Helpers (no tests here): ``mailward serve`` as a real process on free ports, with a
world set up beforehand through the Services API on the same database file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor
from tests.support import World, free_port, make_settings, make_world, open_services

OTHER = "bob@example.test"
PORT_NAMES = (
    "http",
    "imap",
    "imaps",
    "submission",
    "submissions",
    "smtp",
    "pop3",
    "pop3s",
    "auth_http",
)


@dataclass
class Served:
    process: subprocess.Popen[str]
    ports: dict[str, int]
    data_dir: Path
    world: World
    passwords: dict[str, str] = field(default_factory=dict)
    output: list[str] = field(default_factory=list)

    @property
    def services(self) -> Services:
        return self.world.services

    def address_inbox(self, address_id: int) -> Path:
        return self.data_dir / "mail" / str(address_id)

    def alive(self) -> bool:
        return self.process.poll() is None


def serve_env(tmp_path: Path, database_url: str, ports: dict[str, int]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MAILWARD_DATA_DIR=str(tmp_path / "data"),
        MAILWARD_DATABASE_URL=database_url,
        MAILWARD_BIND="127.0.0.1",
        MAILWARD_DEVICE_CHANGE_POLL_SECONDS="0.1",
    )
    for name, port in ports.items():
        env[f"MAILWARD_{name.upper()}_PORT"] = str(port)
    return env


def start_process(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mailward.serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(
    process: subprocess.Popen[str], output: list[str], patience: float = 60
) -> threading.Thread:
    """Read lines until the ready line; keep reading in the background afterwards."""
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "ready" in line:
                ready.set()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    if not ready.wait(patience):
        process.kill()
        raise AssertionError("mailward serve never got ready:\n" + "".join(output))
    return thread


def stop_process(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise
    return int(process.returncode)


@asynccontextmanager
async def serving(tmp_path: Path) -> AsyncIterator[Served]:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/mailward.db"
    services = await open_services(make_settings(tmp_path, database_url))
    world = await make_world(services)
    await services.addresses.create_by_email(Actor.operator(), OTHER)
    ports = {name: free_port() for name in PORT_NAMES}
    process = start_process(serve_env(tmp_path, database_url, ports))
    served = Served(process, ports, tmp_path / "data", world)
    pump: threading.Thread | None = None
    try:
        pump = wait_ready(process, served.output)
        yield served
    finally:
        stop_process(process)
        if pump is not None:
            pump.join(10)
        if process.stdout is not None:
            process.stdout.close()
        await services.close()


async def add_device(served: Served, address: str, name: str) -> str:
    created = await served.services.devices.add(served.world.admin, address, name)
    served.passwords[name] = created.password
    return created.password
