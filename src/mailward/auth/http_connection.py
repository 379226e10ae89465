"""HTTP/1.1 connections of the internal auth endpoint, parsed by httptools, each request
handed to the endpoint's ASGI application.

Dovecot's Lua passdb keeps one connection per auth worker and sends one small request
at a time. A general ASGI server spends more on such a request than the endpoint does
(measured at 300 logins/s over 16 keep-alive connections, rate limits in Redis: 435 µs
of CPU a request under uvicorn, 378 µs here; the application itself takes 139 µs, of
which the Redis read is 117). This module does only what that traffic needs:
keep-alive, answers in order, bounded sizes, idle connections closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

import httptools

from mailward.auth.endpoint import AuthHttpApp

log = logging.getLogger(__name__)

MAX_URL = 2048
MAX_HEADERS = 64
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY = 64 * 1024
Message = MutableMapping[str, Any]


@dataclass
class Request:
    method: str = ""
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_bytes: int = 0
    body: list[bytes] = field(default_factory=list)
    body_bytes: int = 0
    keep_alive: bool = True
    refusal: HTTPStatus | None = None
    expects_continue: bool = False  # "Expect: 100-continue": the body waits for our word
    continued: bool = False
    complete: bool = False


def response_bytes(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, close: bool
) -> bytes:
    reason = HTTPStatus(status).phrase.encode()
    lines = [b"HTTP/1.1 %d %s" % (status, reason)]
    lines += [name + b": " + value for name, value in headers]
    if close:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def refusal_bytes(status: HTTPStatus) -> bytes:
    return response_bytes(status, [(b"content-length", b"0")], b"", close=True)


class AuthHttpConnection(asyncio.Protocol):
    """One client connection. httptools calls the ``on_*`` methods while parsing."""

    def __init__(
        self,
        app: AuthHttpApp,
        connections: set[AuthHttpConnection],
        max_connections: int = 1000,
    ) -> None:
        self.app = app
        self.max_connections = max_connections
        self.connections = connections
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.request = Request()
        self.last_active = time.monotonic()
        self._previous: asyncio.Task[None] | None = None  # answers go out in order

    # -- asyncio ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1])) if peer else None
        if len(self.connections) >= self.max_connections:
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE)  # Dovecot: temporary failure
            return
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(HTTPStatus.BAD_REQUEST)
        except httptools.HttpParserError:
            self._refuse(HTTPStatus.BAD_REQUEST)
        else:
            self._continue_if_awaited()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    @property
    def answering(self) -> asyncio.Task[None] | None:
        """The last answer still being made, if any."""
        return self._previous if self._previous and not self._previous.done() else None

    @property
    def idle(self) -> bool:
        return self.answering is None

    # -- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.request = Request()

    def on_url(self, url: bytes) -> None:
        self.request.url += url
        if len(self.request.url) > MAX_URL:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        request.header_bytes += len(name) + len(value)
        if len(request.headers) >= MAX_HEADERS or request.header_bytes > MAX_HEADER_BYTES:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)  # now, not at the end
            return
        request.headers.append((name.lower(), value))
        if name.lower() == b"expect" and value.strip().lower() == b"100-continue":
            request.expects_continue = True

    def on_body(self, body: bytes) -> None:
        request = self.request
        request.body_bytes += len(body)
        if request.body_bytes > MAX_BODY:
            request.refusal = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        elif request.refusal is None:
            request.body.append(body)

    def on_message_complete(self) -> None:
        request = self.request
        request.complete = True
        request.method = self.parser.get_method().decode("ascii", "replace")
        request.keep_alive = bool(self.parser.should_keep_alive())
        if request.refusal is not None:
            self._refuse(request.refusal)
            return
        previous = self._previous
        self._previous = asyncio.ensure_future(self._answer(request, previous))

    # -- answering -------------------------------------------------------------------------

    async def _answer(self, request: Request, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        try:
            status, headers, body = await self._call_app(request)
        except Exception:
            log.exception("auth endpoint: the request failed")
            status, headers, body = 500, [(b"content-length", b"0")], b""
        if self.transport is None:
            return
        self.transport.write(response_bytes(status, headers, body, not request.keep_alive))
        if not request.keep_alive:
            self.transport.close()
        self.last_active = time.monotonic()

    async def _call_app(self, request: Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        path, _, query = request.url.partition(b"?")
        scope = {
            "type": "http",
            "method": request.method,
            "path": path.decode("latin-1"),
            "query_string": query,
            "headers": request.headers,
            "client": self.peer,
        }
        body = b"".join(request.body)
        answer: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer["status"], answer["headers"], answer["body"]

    def _continue_if_awaited(self) -> None:
        """Say "100 Continue" to a client that waits for it before sending the body
        (RFC 9110 §10.1.1). Dovecot's HTTP client does so on the first request of each
        new connection and otherwise waits 2 s: a login after a quiet minute took 2 s
        longer. Not said when the body came with the head, nor behind an answer still
        being made (answers go out in order)."""
        request = self.request
        waiting = request.expects_continue and not (request.continued or request.complete)
        if not waiting or request.body_bytes or request.refusal is not None:
            return
        if self.transport is None or self.answering is not None:
            return
        request.continued = True
        self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _refuse(self, status: HTTPStatus) -> None:
        """Answer ``status`` and close, once; what the parser still calls back is moot."""
        self.request.refusal = status
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(refusal_bytes(status))
            self.transport.close()
