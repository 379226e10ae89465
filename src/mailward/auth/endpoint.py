"""The internal HTTP auth endpoint, as a bare ASGI application (no framework: every
microsecond here is paid on each IMAP/POP3/SMTP login of the standard-servers plane).

``POST /auth/dovecot`` (for the Dovecot Lua passdb), JSON in and out::

    {"user", "password", "service", "remote_ip", "client_name"?}
    -> 200 {"result": "ok", "device_id": N, "user": "local@domain", "host"?, "port"?}
    -> 200 {"result": "fail"}
    -> 200 {"result": "tempfail", "retry_after": seconds, "reason": "rate_limited"|"unavailable"}

``host`` and ``port`` name the address's mailbox backend when Dovecot proxies (IMAP and
POP3 with ``mailbox_backends`` set). ``POST /auth/dovecot/mailbox`` ``{"user"}`` answers
where an address's mail is delivered (the proxy's LMTP): ``{"result": "ok", "user",
"host"?, "port"?}``, ``{"result": "fail"}`` for an unknown address, or ``tempfail``.

``GET /auth/nginx``: nginx's mail ``auth_http`` header protocol (Auth-User, Auth-Pass,
Auth-Protocol, Client-IP, Auth-Login-Attempt -> Auth-Status, Auth-Server, Auth-Port,
Auth-Wait, Auth-Error-Code). Both need the shared secret in ``X-Mailward-Secret``
(nginx: ``auth_http_header X-Mailward-Secret "..."``); without it, 403.
``GET /auth/health`` answers 200 without a secret. ``GET /metrics``, ``/healthz`` and
``/readyz`` (:mod:`mailward.ops.routes`) answer loopback clients without the secret.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthResult,
    DeviceAuthenticator,
    FailureReason,
)
from mailward.auth.mailboxes import Destination, MailboxLocator, OneMachine, UnknownAddress
from mailward.auth.nginx import NginxBackends, nginx_headers
from mailward.auth.readers import DATABASE_ERRORS
from mailward.ops.routes import OPS_PATHS, OpsRoutes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SECRET_HEADER = b"x-mailward-secret"
MAX_BODY = 16 * 1024
UNAVAILABLE_RETRY = 5
DOVECOT_SERVICES = {"imap": "imap", "pop3": "pop3", "smtp": "smtp", "submission": "smtp"}
JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
FAIL_BODY = b'{"result":"fail"}'
UNAVAILABLE_BODY = json.dumps(
    {"result": "tempfail", "retry_after": UNAVAILABLE_RETRY, "reason": "unavailable"}
).encode()
MAILBOX_PATH = "/auth/dovecot/mailbox"
DOVECOT_PATHS = ("/auth/dovecot", MAILBOX_PATH)


class BadRequest(Exception):
    pass


def _with_destination(answer: dict[str, Any], destination: Destination | None) -> bytes:
    if destination is not None:
        answer |= {"host": destination.host, "port": destination.port}
    return json.dumps(answer).encode()


def dovecot_answer(result: AuthResult, destination: Destination | None = None) -> bytes:
    if isinstance(result, AuthenticatedDevice):
        answer = {"result": "ok", "device_id": result.device_id, "user": result.address}
        return _with_destination(answer, destination)
    if result.reason == FailureReason.WRONG_CREDENTIALS:
        return FAIL_BODY
    retry = result.retry_after or UNAVAILABLE_RETRY
    answer = {"result": "tempfail", "retry_after": math.ceil(retry), "reason": str(result.reason)}
    return json.dumps(answer).encode()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body is not a JSON object")
    return data


def dovecot_request(body: bytes) -> dict[str, str | None]:
    data = _json_object(body)
    fields = {k: data.get(k) for k in ("user", "password", "service", "remote_ip", "client_name")}
    if not all(isinstance(v, str) or v is None for v in fields.values()):
        raise BadRequest("fields must be strings")
    if not fields["user"] or fields["password"] is None:
        raise BadRequest("user and password are required")
    return fields


def mailbox_request(body: bytes) -> str:
    user = _json_object(body).get("user")
    if not isinstance(user, str) or not user:
        raise BadRequest("user is required")
    return user


class AuthHttpApp:
    def __init__(
        self,
        authenticator: DeviceAuthenticator,
        secret: str,
        backends: NginxBackends,
        ops: OpsRoutes | None = None,
        mailboxes: MailboxLocator | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the auth endpoint needs a shared secret")
        self.authenticator = authenticator
        self._secret = secret.encode()
        self.backends = backends
        self.ops = ops
        self.mailboxes = mailboxes or OneMachine()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        route = (method, path)
        if route == ("GET", "/auth/health"):
            await _respond(send, 200, [(b"content-type", b"text/plain")], b"ok")
            return
        headers = dict(scope["headers"])
        if method == "GET" and path in OPS_PATHS and self.ops is not None:
            await self._ops(path, scope.get("client"), headers, send)
            return
        if route not in (("GET", "/auth/nginx"),) and not (
            method == "POST" and path in DOVECOT_PATHS
        ):
            await _respond(send, 404, [], b"")
            return
        if not hmac.compare_digest(headers.get(SECRET_HEADER, b""), self._secret):
            await _respond(send, 403, [], b"")
            return
        if path == "/auth/nginx":
            await self._nginx(headers, send)
        else:
            await self._dovecot_route(path, receive, send)

    async def _dovecot_route(self, path: str, receive: Receive, send: Send) -> None:
        try:
            body = await _body(receive)
            if path == MAILBOX_PATH:
                answer = await self._mailbox(mailbox_request(body))
            else:
                answer = await self._dovecot(dovecot_request(body))
        except BadRequest as exc:
            answer = json.dumps({"result": "fail", "error": str(exc)}).encode()
            await _respond(send, 400, JSON_HEADERS, answer)
            return
        await _respond(send, 200, JSON_HEADERS, answer)

    async def _dovecot(self, fields: dict[str, str | None]) -> bytes:
        protocol = DOVECOT_SERVICES.get((fields["service"] or "imap").lower())
        if protocol is None:
            return FAIL_BODY
        result = await self.authenticator.authenticate(
            fields["user"] or "",
            fields["password"] or "",
            protocol,
            fields["remote_ip"] or "",
            fields["client_name"],
        )
        return await self._answer(result, protocol)

    async def _answer(self, result: AuthResult, protocol: str) -> bytes:
        if not isinstance(result, AuthenticatedDevice):
            return dovecot_answer(result)
        try:
            destination = await self.mailboxes.for_address_id(result.address_id, protocol)
        except (*DATABASE_ERRORS, LookupError):
            return UNAVAILABLE_BODY
        return dovecot_answer(result, destination)

    async def _mailbox(self, email: str) -> bytes:
        try:
            destination = await self.mailboxes.for_email(email, "lmtp")
        except UnknownAddress:
            return FAIL_BODY
        except (*DATABASE_ERRORS, LookupError):
            return UNAVAILABLE_BODY
        return _with_destination({"result": "ok", "user": email}, destination)

    async def _ops(
        self,
        path: str,
        client: tuple[str, int] | None,
        headers: dict[bytes, bytes],
        send: Send,
    ) -> None:
        assert self.ops is not None
        if not self.ops.allowed(client, headers):
            await _respond(send, 403, [], b"")
            return
        await _respond(send, *await self.ops.answer(path))

    async def _nginx(self, headers: dict[bytes, bytes], send: Send) -> None:
        await _respond(
            send, 200, await nginx_headers(self.authenticator, headers, self.backends), b""
        )


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest("body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
