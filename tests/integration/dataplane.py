"""The production data plane, started for tests: ``mailward serve`` with
``data_plane = "dovecot"`` on PostgreSQL (web manager, auth endpoint, socketmap, kick
hook), Dovecot and Postfix from the generated configuration, all on free ports of
127.0.0.1. Used by test_dovecot_* and test_postfix_*."""

from __future__ import annotations

import asyncio
import imaplib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mailward.bootstrap import Services, build_services
from mailward.core.access.actors import Actor
from mailward.integrations.dovecot import write_dovecot_config
from mailward.integrations.options import DataPlaneOptions
from mailward.integrations.postfix import write_postfix_config
from mailward.settings import Settings
from tests.support import (
    create_postgres_database,
    drop_postgres_database,
    free_port,
    make_world,
    skip_or_fail,
)

T = TypeVar("T")
SECRET = "dataplane-test-secret-0123456789abcdef"
BINARIES = ("dovecot", "doveadm", "postfix", "swaks", "curl")
INFO = "info@example.test"
SALES = "sales@example.test"


def require_binaries() -> None:
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        skip_or_fail(f"missing {', '.join(missing)} (Debian: dovecot-*, postfix, swaks, curl)")
    if os.geteuid() != 0:
        skip_or_fail("Dovecot and Postfix instances are started as root here")


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Node:
    """A Mailward process (``mailward serve``, or ``mailward integrate agent``)."""

    process: subprocess.Popen[str]
    settings: Settings
    lines: list[str] = field(default_factory=list)

    @property
    def auth_port(self) -> int:
        return self.settings.auth_http_port

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def settings_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILWARD_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        if name in settings.model_fields_set:
            raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            text = json.dumps(raw, default=str) if isinstance(raw, list | dict) else str(raw)
            env[f"MAILWARD_{name.upper()}"] = text
    return env


def start_node(settings: Settings, *command: str) -> Node:
    """``mailward COMMAND`` (``serve`` by default) on these settings, once it printed its
    ready line; its output is kept in ``lines``."""
    arguments = [sys.executable, "-m", "mailward.cli", *(command or ("serve",))]
    process = subprocess.Popen(
        arguments,
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    node = Node(process, settings)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            node.lines.append(line)
            if "ready" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        node.stop()
        raise RuntimeError(f"mailward {' '.join(command)} did not start:\n" + "".join(node.lines))
    return node


@dataclass
class DataPlane:
    root: Path
    settings: Settings
    options: DataPlaneOptions
    dovecot_conf: Path
    postfix_dir: Path
    nodes: list[Node] = field(default_factory=list)

    def run(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``work`` with Mailward's services, as the operator's CLI would: another
        process than the agent, on the same database."""

        async def main() -> T:
            services = await build_services(self.settings)
            try:
                return await work(services)
            finally:
                await services.close()

        return asyncio.run(main())

    def add_device(self, address: str, name: str, password: str | None = None) -> Any:
        async def add(services: Services) -> Any:
            return await services.devices.add(Actor.operator(), address, name, password=password)

        return self.run(add)

    def revoke(self, address: str, device_id: int) -> None:
        async def revoke(services: Services) -> None:
            await services.devices.revoke(Actor.operator(), address, device_id)

        self.run(revoke)

    def doveadm(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = ["doveadm", "-c", str(self.dovecot_conf), *arguments]
        return subprocess.run(command, capture_output=True, text=True, timeout=30)

    def logs(self) -> str:
        parts = [f"--- mailward\n{''.join(n.lines)}" for n in self.nodes]
        for path in (self.dovecot_conf.parent / "dovecot.log", self.postfix_dir / "postfix.log"):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text()[-4000:]}")
        return "\n".join(parts)


def fetch_by_subject(plane: DataPlane, address: str, subject: str, timeout: float = 30) -> bytes:
    """The recipient's newest INBOX message with ``subject``, read over IMAP with a device
    of its own, once it arrives."""
    reader = plane.add_device(address, f"reader {uuid.uuid4().hex[:8]}")
    client = imaplib.IMAP4_SSL("127.0.0.1", plane.settings.imaps_port, ssl_context=client_tls())
    try:
        client.login(address, reader.password)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client.select("INBOX")
            _, found = client.search(None, "SUBJECT", f'"{subject}"')
            if found[0]:
                _, data = client.fetch(found[0].split()[-1], "(BODY.PEEK[])")
                return bytes(data[0][1])  # type: ignore[index]
            time.sleep(0.2)
    finally:
        client.logout()
    raise AssertionError(f"{subject!r} never reached {address}\n{plane.logs()}")


def private_redis(db: int) -> str:
    """A Redis database of the two-node test's own, emptied of rate-limit counters left
    by earlier runs (counters are keyed by address and IP, and every test is 127.0.0.1)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=db)
    try:
        for key in client.scan_iter("mailward:rl:*"):
            client.delete(key)
    finally:
        client.close()
    return f"redis://127.0.0.1:6379/{db}"


def plane_settings(
    root: Path, database_url: str, redis_url: str | None, **overrides: Any
) -> Settings:
    ports = {
        name: free_port()
        for name in (
            "http_port",
            "socketmap_port",
            "auth_http_port",
            "imap_port",
            "imaps_port",
            "pop3_port",
            "pop3s_port",
            "submission_port",
            "submissions_port",
            "smtp_port",
        )
    }
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        redis_url=redis_url,
        auth_http_secret=SECRET,  # type: ignore[arg-type]
        hostname="mail.example.test",
        data_plane="dovecot",
        dovecot_config=root / "dovecot" / "dovecot.conf",
        **(ports | overrides),  # type: ignore[arg-type]
    )


def plane_options(root: Path) -> DataPlaneOptions:
    return DataPlaneOptions(
        lmtp_port=free_port(),
        sasl_port=free_port(),
        mail_root=root / "mail",
        login_processes=2,
        auth_workers=8,
        instance_name=f"mailward-test-{root.name}",
    )


def start_dovecot(plane: DataPlane) -> None:
    subprocess.run(["dovecot", "-c", str(plane.dovecot_conf)], check=True, timeout=30)
    wait_for_port(plane.settings.imaps_port)
    wait_for_port(plane.options.sasl_port)


def wait_for_auth_chain(plane: DataPlane, timeout: float = 60.0) -> None:
    """Dovecot -> Lua -> Mailward -> PostgreSQL answers a definite "no" (not a temporary
    failure): connections are open and the first slow lookups are done, even on a
    loaded machine."""
    deadline = time.monotonic() + timeout
    answer = b""
    while time.monotonic() < deadline:
        client = imaplib.IMAP4_SSL("127.0.0.1", plane.settings.imaps_port, ssl_context=client_tls())
        try:
            client.login("warm-up@example.test", "not-a-device-password-warm-up")
        except imaplib.IMAP4.error as error:
            answer = str(error).encode()
            if b"AUTHENTICATIONFAILED" in answer:
                return
        finally:
            client.shutdown()
        time.sleep(0.5)
    raise TimeoutError(f"the auth chain never answered: {answer!r}\n{plane.logs()}")


def stop_dovecot(plane: DataPlane) -> None:
    stop_dovecot_at(plane.dovecot_conf)


def stop_dovecot_at(config: Path) -> None:
    """Stop the Dovecot instance of ``config`` (written by ``integrate dovecot``)."""
    pid_file = config.parent / "run" / "master.pid"
    command = ["doveadm", "-c", str(config), "stop"]
    subprocess.run(command, capture_output=True, text=True, timeout=30)
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def start_postfix(plane: DataPlane) -> None:
    command = ["postfix", "-c", str(plane.postfix_dir), "start"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"postfix start failed: {result.stderr}\n{plane.logs()}")
    wait_for_port(plane.settings.submissions_port)


def stop_postfix(plane: DataPlane) -> None:
    command = ["postfix", "-c", str(plane.postfix_dir), "stop"]
    subprocess.run(command, capture_output=True, timeout=60)


async def _populate(services: Services) -> None:
    world = await make_world(services)
    await services.addresses.create_by_email(Actor.operator(), SALES)
    del world


def prepare_plane(redis_url: str | None = None, **overrides: Any) -> DataPlane:
    """Database, configuration files, world; nothing started yet. Without ``redis_url``
    each Mailward process counts failures in memory, so no run inherits another's.
    ``overrides`` change settings (ports, rspamd, resolvers)."""
    database_url = asyncio.run(create_postgres_database())
    root = Path(tempfile.mkdtemp(prefix="mwdp", dir="/tmp"))
    root.chmod(0o755)
    settings = plane_settings(root, database_url, redis_url, **overrides)
    options = plane_options(root)
    dovecot_files = write_dovecot_config(settings, root / "dovecot", options)
    assert dovecot_files[0] == settings.dovecot_config
    write_postfix_config(settings, root / "postfix", options)
    plane = DataPlane(root, settings, options, dovecot_files[0], root / "postfix")
    plane.run(_populate)
    return plane


def destroy_plane(plane: DataPlane) -> None:
    for node in plane.nodes:
        node.stop()
    asyncio.run(drop_postgres_database(plane.settings.effective_database_url))
    shutil.rmtree(plane.root, ignore_errors=True)


@contextmanager
def prepared_plane(redis_url: str | None = None, **overrides: Any) -> Iterator[DataPlane]:
    """``prepare_plane`` (the binaries required first), destroyed afterwards."""
    require_binaries()
    plane = prepare_plane(redis_url, **overrides)
    try:
        yield plane
    finally:
        destroy_plane(plane)


@contextmanager
def dovecot_running(plane: DataPlane, auth_chain: bool = True) -> Iterator[None]:
    """Dovecot started (and its logins through Mailward answering, with
    ``auth_chain``), stopped afterwards."""
    start_dovecot(plane)
    try:
        if auth_chain:
            wait_for_auth_chain(plane)
        yield
    finally:
        stop_dovecot(plane)


@contextmanager
def postfix_running(plane: DataPlane) -> Iterator[None]:
    start_postfix(plane)
    try:
        yield
    finally:
        stop_postfix(plane)


def running_plane() -> Iterator[DataPlane]:
    """Everything up: ``mailward serve``, Dovecot, Postfix. Stopped and removed afterwards."""
    with prepared_plane() as plane:
        plane.nodes.append(start_node(plane.settings))
        with dovecot_running(plane), postfix_running(plane):
            yield plane
