"""``mailward serve``: the web manager, the internal auth endpoint and the embedded mail
servers in one asyncio process, on one settings object, started and stopped together.

Prints one line containing ``ready`` once every listener accepts connections; SIGTERM
or SIGINT stops accepting, ends the sessions, flushes last-used data and exits 0;
SIGHUP reloads the TLS certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import socket
import sys
from collections.abc import Generator
from typing import Any

import uvicorn

from mailward.auth.runtime import AuthRuntime
from mailward.bootstrap import Services, build_services
from mailward.mail.server import MailPorts, MailServer
from mailward.settings import Settings

log = logging.getLogger("mailward.serve")


class _WebServer(uvicorn.Server):
    """uvicorn inside our loop: the process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebListener:
    def __init__(self, server: _WebServer, task: asyncio.Task[None], sock: socket.socket):
        self.server = server
        self.task = task
        self.sock = sock

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 10)
        self.sock.close()


async def start_web(services: Services, settings: Settings) -> WebListener | None:
    """The web manager, if this build has one (imported lazily)."""
    try:
        module = importlib.import_module("mailward.web.app")
    except ImportError as exc:
        log.warning("web manager not started: %s", exc)
        return None
    app = module.create_app(services)
    sock = socket.create_server((settings.bind, settings.http_port), reuse_port=False)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = _WebServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the web server stopped while starting")
        await asyncio.sleep(0.01)
    return WebListener(server, task, sock)


def ready_line(ports: MailPorts, web: WebListener | None, auth_port: int) -> str:
    web_part = f"http {web.sock.getsockname()[1]}" if web else "http off"
    return (
        f"mailward ready: {web_part}, auth {auth_port}, imap {ports.imap}, "
        f"imaps {ports.imaps}, submission {ports.submission}, "
        f"submissions {ports.submissions}, smtp {ports.smtp}, "
        f"pop3 {ports.pop3}, pop3s {ports.pop3s}"
    )


def install_signals(stop: asyncio.Event, mail: MailServer) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, mail.reload_tls)


async def serve(settings: Settings, started: asyncio.Future[MailPorts] | None = None) -> int:
    services = await build_services(settings)
    stop = asyncio.Event()
    try:
        async with AuthRuntime(services) as auth:
            auth_http = await auth.serve_http()
            mail = MailServer(settings, services, auth.authenticator)
            ports = await mail.start()
            web = await start_web(services, settings)
            install_signals(stop, mail)
            print(ready_line(ports, web, auth_http.port), flush=True)
            if started is not None:
                started.set_result(ports)
            await stop.wait()
            log.info("stopping")
            if web is not None:
                await web.stop()
            await mail.stop()
    finally:
        await services.close()
    return 0


def configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    # aiosmtpd logs every connection and command at INFO; keep warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def run(settings: Settings) -> int:
    """Blocking entry point for ``mailward serve``."""
    configure_logging()
    return asyncio.run(serve(settings))


def main(argv: list[str] | None = None) -> Any:
    return run(Settings())


if __name__ == "__main__":
    sys.exit(main())
