"""Serving the internal auth endpoint on its own listener, inside the caller's loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from mailward.auth.endpoint import AuthHttpApp
from mailward.auth.http_connection import AuthHttpConnection
from mailward.auth.interfaces import DeviceAuthenticator
from mailward.auth.mailboxes import MailboxLocator
from mailward.auth.nginx import NginxBackends
from mailward.auth.secret import auth_http_secret
from mailward.ops.routes import OpsRoutes
from mailward.settings import Settings

log = logging.getLogger(__name__)


IDLE_SECONDS = 60.0  # Dovecot's Lua client keeps idle connections 60 s


class AuthHttpServer:
    """A running endpoint. ``port`` is the bound port (useful when asked for port 0)."""

    def __init__(
        self, server: asyncio.Server, connections: set[AuthHttpConnection], sock: socket.socket
    ) -> None:
        self._server = server
        self._connections = connections
        self.host, self.port = sock.getsockname()[:2]
        self._sweeper = asyncio.create_task(self._close_idle(), name="auth-http-idle")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _close_idle(self) -> None:
        while True:
            await asyncio.sleep(IDLE_SECONDS / 4)
            quiet_since = time.monotonic() - IDLE_SECONDS
            for connection in list(self._connections):
                if connection.idle and connection.last_active < quiet_since:
                    connection.close()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (for ``grace`` seconds), close
        every connection."""
        self._sweeper.cancel()
        self._server.close()
        answering = [c.answering for c in self._connections if c.answering is not None]
        if answering:
            await asyncio.wait(answering, timeout=grace)
        for connection in list(self._connections):
            connection.close()
        await self._server.wait_closed()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listener whose ``proto`` is IPPROTO_TCP: asyncio sets TCP_NODELAY on
    accepted connections only then; without it, Nagle's algorithm and the client's
    delayed ACK hold every response about 40 ms."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def make_auth_http_app(
    authenticator: DeviceAuthenticator,
    settings: Settings,
    ops: OpsRoutes | None = None,
    mailboxes: MailboxLocator | None = None,
) -> AuthHttpApp:
    """The ASGI app, with the configured (or development) secret and nginx backends;
    with ``ops``, also ``/metrics``, ``/healthz`` and ``/readyz``; with ``mailboxes``,
    the mailbox backend of each login for Dovecot proxies."""
    nginx = NginxBackends.from_settings(settings)
    return AuthHttpApp(authenticator, auth_http_secret(settings), nginx, ops, mailboxes)


async def serve_auth_http(
    app_or_authenticator: AuthHttpApp | DeviceAuthenticator,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
) -> AuthHttpServer:
    """Start the internal HTTP auth endpoint in the running event loop and return once
    it accepts connections. Binds ``settings.auth_http_bind:settings.auth_http_port``
    (127.0.0.1:8081 by default) unless ``host``/``port`` are given (port 0: any free
    port, read it from ``.port``). Stop it with ``await server.stop()``."""
    app = app_or_authenticator
    if not isinstance(app, AuthHttpApp):
        app = make_auth_http_app(app, settings)
    bind_host = host if host is not None else settings.auth_http_bind
    bind_port = port if port is not None else settings.auth_http_port
    sock = listening_socket(bind_host, bind_port)
    connections: set[AuthHttpConnection] = set()
    endpoint = app
    server = await asyncio.get_running_loop().create_server(
        lambda: AuthHttpConnection(endpoint, connections, settings.internal_max_connections),
        sock=sock,
    )
    log.info("auth endpoint listening on %s:%s", bind_host, sock.getsockname()[1])
    return AuthHttpServer(server, connections, sock)
