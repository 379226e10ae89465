"""``mailward serve``: the web manager, the internal auth endpoint and a mail data plane in
one asyncio process, on one settings object, started and stopped together.

The data plane is the embedded IMAP, POP3 and SMTP servers (``data_plane = "embedded"``)
or, when Dovecot and Postfix serve mail (``data_plane = "dovecot"``), what they need of
Mailward besides the auth endpoint: the socketmap tables and the Dovecot kick hook.

Prints one line containing ``ready`` once every listener accepts connections; SIGTERM
or SIGINT stops accepting, ends the sessions, flushes last-used data and exits 0;
SIGHUP reloads the embedded servers' TLS certificate.

Fails loudly: Mailward's own modules are imported directly (Mailward has no optional
extras), so a broken one ends the process with its ImportError; a part that cannot start
(a port in use, a database that does not answer) ends it with its error, after the parts
already started were stopped in reverse order (one ``AsyncExitStack``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Generator
from typing import Any, Protocol

import uvicorn

from mailward.auth.interfaces import DeviceAuthenticator
from mailward.auth.mailboxes import mailbox_locator
from mailward.auth.runtime import close_authenticator, start_change_feed
from mailward.auth.server import make_auth_http_app, serve_auth_http
from mailward.bootstrap import Services, build_services
from mailward.domain_rechecks import rechecks_for
from mailward.integrations import sdnotify
from mailward.integrations.runtime import DataPlaneRuntime
from mailward.mail.server import MailServer
from mailward.ops.logs import configure_logging
from mailward.ops.node import NodeOps
from mailward.ops.renewal import CertificateRenewal
from mailward.settings import Settings
from mailward.web.app import create_app
from mailward.web.clientip import proxy_options

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
        with contextlib.suppress(Exception):  # a timeout cancels the web task
            async with asyncio.timeout(10):  # not wait_for: it can swallow serve's stop
                await self.task
        self.sock.close()


async def start_web(
    services: Services,
    settings: Settings,
    port: int | None = None,
    tls: ssl.SSLContext | None = None,
) -> WebListener:
    """The web manager on ``settings.bind:http_port`` (or ``port``; over TLS with
    ``tls``), accepting when this returns."""
    app = create_app(services)
    listen = settings.http_port if port is None else port
    sock = socket.create_server((settings.bind, listen), reuse_port=False)
    # h11 bounds a request's head (16 KiB); limit_concurrency answers 503 beyond the cap.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        limit_concurrency=settings.http_max_connections,
        # X-Forwarded-For only from the trusted proxies (uvicorn's default trusts 127.0.0.1).
        **proxy_options(settings),
    )
    if tls is not None:  # uvicorn serves with config.ssl: the mail servers' reloadable context
        config.load()
        config.ssl = tls
    server = _WebServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    while not server.started:
        if task.done():
            sock.close()
            await task
            raise RuntimeError("the web server stopped while starting")
        await asyncio.sleep(0.01)
    return WebListener(server, task, sock)


class MailPlane(Protocol):
    """Whatever serves mail beside the web manager and the auth endpoint."""

    async def start(self) -> str:
        """Start; return the listeners for the ready line."""
        ...

    async def stop(self) -> None: ...

    def reload_tls(self) -> None: ...


class EmbeddedMail:
    """Mailward's own IMAP, POP3 and SMTP servers."""

    def __init__(
        self, settings: Settings, services: Services, authenticator: DeviceAuthenticator
    ) -> None:
        self.server = MailServer(settings, services, authenticator)

    async def start(self) -> str:
        ports = await self.server.start()
        return (
            f"imap {ports.imap}, imaps {ports.imaps}, submission {ports.submission}, "
            f"submissions {ports.submissions}, smtp {ports.smtp}, "
            f"pop3 {ports.pop3}, pop3s {ports.pop3s}"
        )

    async def stop(self) -> None:
        await self.server.stop()

    def reload_tls(self) -> None:
        self.server.reload_tls()


class DovecotMail:
    """Dovecot and Postfix serve mail: this node answers Postfix's lookups and ends
    Dovecot sessions of changed devices. Their certificates are theirs to reload."""

    def __init__(self, services: Services) -> None:
        self.runtime = DataPlaneRuntime(services)
        self.dovecot_config = services.settings.dovecot_config

    async def start(self) -> str:
        await self.runtime.start()
        kicks = f"kicks {self.dovecot_config}" if self.dovecot_config else "kicks nothing"
        return f"socketmap {self.runtime.socketmap_port}, dovecot {kicks}"

    async def stop(self) -> None:
        await self.runtime.stop()

    def reload_tls(self) -> None:
        log.info("SIGHUP: Dovecot and Postfix hold the mail certificates here")


def mail_plane(
    settings: Settings, services: Services, authenticator: DeviceAuthenticator
) -> MailPlane:
    if settings.data_plane == "dovecot":
        return DovecotMail(services)
    return EmbeddedMail(settings, services, authenticator)


def ready_line(mail: str, web: WebListener | None, auth_port: int) -> str:
    web_part = f"http {web.sock.getsockname()[1]}" if web else "http off"
    return f"mailward ready: {web_part}, auth {auth_port}, {mail}"


def install_signals(stop: asyncio.Event, mail: MailPlane) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, mail.reload_tls)


def remove_signals() -> None:
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(number)


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def start_node(
    stack: contextlib.AsyncExitStack, settings: Settings, with_web: bool
) -> tuple[MailPlane, str]:
    """Start every part of the node, each one's stop pushed on ``stack`` as soon as it
    runs: a part that fails to start stops those already started, in reverse order.
    Returns the mail plane (for SIGHUP) and the ready line."""
    services = await build_services(settings)
    stack.push_async_callback(services.close)  # queued notices reach the spool first
    services.send_security_notices()  # of the changes made here (web manager, API)
    authenticator = services.build_authenticator()
    stack.push_async_callback(close_authenticator, authenticator)  # last-used flushed
    stack.push_async_callback(cancel, await start_change_feed(services))
    flusher = asyncio.create_task(authenticator.last_used.run(), name="device-last-used")
    stack.push_async_callback(cancel, flusher)
    ops = NodeOps(services)  # /metrics, /healthz, /readyz on the auth listener
    mailboxes = mailbox_locator(services.db, settings)  # Dovecot proxies: the backends
    auth_http = await serve_auth_http(
        make_auth_http_app(authenticator, settings, ops.routes, mailboxes), settings
    )
    stack.push_async_callback(auth_http.stop)
    ops.start()
    stack.callback(ops.stop)
    services.outbox.start()  # notices and invitations leave through the spool
    stack.push_async_callback(services.outbox.stop)
    mail = mail_plane(settings, services, authenticator)
    stack.push_async_callback(mail.stop)  # also after a partial start
    listeners = await mail.start()
    if isinstance(mail, EmbeddedMail):
        ops.sessions = mail.server.registry
    renewal = CertificateRenewal(services, mail.reload_tls)  # ACME: renew, reload
    stack.push_async_callback(cancel, renewal.start())
    web = None
    if with_web:
        web = await start_web(services, settings)
        stack.push_async_callback(web.stop)
        if settings.https_port is not None and isinstance(mail, EmbeddedMail):
            https = await start_web(
                services, settings, settings.https_port, mail.server.tls.context
            )
            stack.push_async_callback(https.stop)
            listeners += f", https {https.sock.getsockname()[1]}"
        # Pending domains are re-checked by the nodes that run the manager.
        interval, timeout = settings.domain_check_interval_seconds, settings.dns_timeout_seconds
        rechecks = rechecks_for(services.domain_checks, interval, timeout)
        rechecks.start()
        stack.push_async_callback(rechecks.stop)
        upkeep = services.device_upkeep()  # notices and expiry: from the manager's nodes
        upkeep.start()
        stack.push_async_callback(upkeep.stop)
        pruning = services.retention_pruning()  # tables that only grow, trimmed
        pruning.start()
        stack.push_async_callback(pruning.stop)
    ops.health.listening = True
    return mail, ready_line(listeners, web, auth_http.port)


async def serve(settings: Settings, with_web: bool = True) -> int:
    """Run until SIGTERM or SIGINT. ``with_web=False``: a node without the web manager
    (``mailward integrate agent``). A part that fails to start ends the process with
    its error, after stopping the parts already started."""
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        mail, ready = await start_node(stack, settings, with_web)
        install_signals(stop, mail)
        stack.callback(remove_signals)
        print(ready, flush=True)
        sdnotify.notify("READY=1")  # Type=notify: systemd starts dependants now
        stack.push_async_callback(sdnotify.stop_watchdog, sdnotify.start_watchdog())
        await stop.wait()
        log.info("stopping")
        sdnotify.notify("STOPPING=1")
    return 0


def run(settings: Settings, with_web: bool = True) -> int:
    """Blocking entry point for ``mailward serve``."""
    configure_logging(settings.log_format)
    return asyncio.run(serve(settings, with_web))


def main(argv: list[str] | None = None) -> Any:
    return run(Settings())


if __name__ == "__main__":
    sys.exit(main())
