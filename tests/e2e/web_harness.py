"""A live Mailward for browser tests: services, the authenticator, the embedded mail
server and the web manager (uvicorn) on one event loop in a background thread, as
``mailward serve`` runs them. The test thread drives a browser and mail clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from mailward.auth.runtime import AuthRuntime
from mailward.bootstrap import Services
from mailward.clock import FrozenClock
from mailward.mail.server import MailPorts, MailServer
from mailward.web.app import create_app
from mailward.web.clientip import proxy_options
from tests.support import (
    World,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    make_settings,
    make_world,
    open_services,
    skip_or_fail,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")


class LogCapture(logging.Handler):
    """Keeps every formatted log line, to search for secrets afterwards."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(self.format(record))


@dataclass
class LiveMailward:
    tmp_path: Path
    database_url: str
    clock: FrozenClock = field(default_factory=FrozenClock)
    http_port: int = field(default_factory=free_port)
    loop: asyncio.AbstractEventLoop | None = None
    world: World | None = None
    mail_ports: MailPorts | None = None
    logs: LogCapture = field(default_factory=LogCapture)
    # The name in URLs (it listens on 127.0.0.1 whatever it is): "localhost" where the
    # browser needs a domain, as WebAuthn does (an IP address is no relying-party id).
    host: str = "127.0.0.1"
    _ready: threading.Event = field(default_factory=threading.Event)
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def services(self) -> Services:
        assert self.world is not None
        return self.world.services

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the server's loop (where the database engine lives)."""
        assert self.loop is not None
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="live-mailward", daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"Mailward did not start: {self._error!r}")

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        settings = make_settings(
            self.tmp_path,
            self.database_url,
            http_port=self.http_port,
            public_url=self.url,
            imap_port=0,
            imaps_port=0,
            submission_port=0,
            submissions_port=0,
            smtp_port=0,
            pop3_port=0,
            pop3s_port=0,
        )
        services = await open_services(settings, self.clock)
        self.world = await make_world(services)
        root = logging.getLogger()
        root.addHandler(self.logs)
        old_level = root.level
        root.setLevel(logging.INFO)
        try:
            async with AuthRuntime(services) as auth:
                mail = MailServer(settings, services, auth.authenticator)
                self.mail_ports = await mail.start()
                try:
                    await self._serve_web(services)
                finally:
                    await mail.stop(grace=1.0)
        finally:
            root.removeHandler(self.logs)
            root.setLevel(old_level)
            await services.close()

    async def _serve_web(self, services: Services) -> None:
        config = uvicorn.Config(
            create_app(services),
            host="127.0.0.1",
            port=self.http_port,
            log_config=None,
            lifespan="off",
            access_log=True,
            **proxy_options(services.settings),  # as `mailward serve` trusts forwarded IPs
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        self._ready.set()
        assert self._stop is not None
        await self._stop.wait()
        server.should_exit = True
        await task


def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a thread of its own: the test thread may hold
    Playwright's event loop."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # re-raised in the test thread, skips included
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return result[0]


def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/mailward.db"
        return
    url = run_aside(create_postgres_database())
    try:
        yield url
    finally:
        run_aside(drop_postgres_database(url))


def live_mailward(kind: str, tmp_path: Path, host: str = "127.0.0.1") -> Iterator[LiveMailward]:
    for url in database_url(kind, tmp_path):
        live = LiveMailward(tmp_path, url, host=host)
        live.start()
        try:
            yield live
        finally:
            live.stop()


def require_chromium() -> None:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")


DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
