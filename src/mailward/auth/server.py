"""Serving the internal auth endpoint on its own listener, inside the caller's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn

from mailward.auth.endpoint import AuthHttpApp
from mailward.auth.interfaces import DeviceAuthenticator
from mailward.auth.nginx import NginxBackends
from mailward.auth.secret import auth_http_secret
from mailward.settings import Settings

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers (the host process owns the signals), telling
    when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class AuthHttpServer:
    """A running endpoint. ``port`` is the bound port (useful when asked for port 0)."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket):
        self._server = server
        self._task = task
        self._socket = sock
        self.host, self.port = sock.getsockname()[:2]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close the socket."""
        self._server.should_exit = True
        try:
            await self._task
        finally:
            self._socket.close()


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


def make_auth_http_app(authenticator: DeviceAuthenticator, settings: Settings) -> AuthHttpApp:
    """The ASGI app, with the configured (or development) secret and nginx backends."""
    return AuthHttpApp(
        authenticator, auth_http_secret(settings), NginxBackends.from_settings(settings)
    )


async def serve_auth_http(
    app_or_authenticator: AuthHttpApp | DeviceAuthenticator,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
) -> AuthHttpServer:
    """Start the internal HTTP auth endpoint in the running event loop and return once
    it accepts connections. Binds ``settings.auth_http_bind:settings.auth_http_port``
    (127.0.0.1:8081 by default) unless ``host``/``port`` are given (port 0: any free
    port, read it from ``.port``). Uses uvicorn with the httptools parser, no access
    log, no signal handlers. Stop it with ``await server.stop()``."""
    app = app_or_authenticator
    if not isinstance(app, AuthHttpApp):
        app = make_auth_http_app(app, settings)
    bind_host = host if host is not None else settings.auth_http_bind
    bind_port = port if port is not None else settings.auth_http_port
    sock = listening_socket(bind_host, bind_port)
    config = uvicorn.Config(
        app,
        http="httptools",
        loop="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        timeout_keep_alive=30,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="auth-http")
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if not server.started:
        ready.cancel()
        sock.close()
        if task.done():
            task.result()
        raise RuntimeError("the auth endpoint stopped during start-up")
    log.info("auth endpoint listening on %s:%s", bind_host, sock.getsockname()[1])
    return AuthHttpServer(server, task, sock)
