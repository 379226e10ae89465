"""nginx's mail ``auth_http`` protocol: request headers in, ``Auth-*`` headers out.

nginx URL-encodes Auth-User and Auth-Pass. Only ``Auth-Method: plain`` can work with
hashed passwords (APOP and CRAM-MD5 need the clear password on the server). After
``MAX_ATTEMPTS`` failures in one session the answer has no Auth-Wait, so nginx closes
the connection instead of keeping memory for one more try.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import unquote

from mailward.auth.interfaces import AuthenticatedDevice, DeviceAuthenticator, FailureReason
from mailward.settings import Settings

MAX_ATTEMPTS = 10
WRONG_STATUS = b"Invalid login or password"
TEMPORARY_STATUS = b"Temporary server problem, try again later"
NGINX_PROTOCOLS = ("imap", "pop3", "smtp")


@dataclass(frozen=True)
class NginxBackends:
    """Where nginx should proxy a session once its login is accepted."""

    host: str
    ports: dict[str, int]

    @classmethod
    def from_settings(cls, settings: Settings) -> NginxBackends:
        host = settings.bind if settings.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
        ports = {
            "imap": settings.imap_port,
            "pop3": settings.pop3_port,
            "smtp": settings.submission_port,
        }
        return cls(host, ports)


def _failure(
    protocol: str, attempt: int, temporary: bool, wait: float
) -> list[tuple[bytes, bytes]]:
    status = TEMPORARY_STATUS if temporary else WRONG_STATUS
    headers = [(b"auth-status", status)]
    if protocol == "smtp":
        code = b"454 4.7.0" if temporary else b"535 5.7.8"
        headers.append((b"auth-error-code", code))
    if attempt < MAX_ATTEMPTS:
        headers.append((b"auth-wait", str(max(1, math.ceil(wait))).encode()))
    return headers


async def nginx_headers(
    authenticator: DeviceAuthenticator, request: dict[bytes, bytes], backends: NginxBackends
) -> list[tuple[bytes, bytes]]:
    protocol = request.get(b"auth-protocol", b"").decode("latin-1").lower()
    try:
        attempt = int(request.get(b"auth-login-attempt", b"1"))
    except ValueError:
        attempt = MAX_ATTEMPTS
    method = request.get(b"auth-method", b"plain").lower()
    if protocol not in NGINX_PROTOCOLS or method not in (b"plain", b"login"):
        return _failure(protocol, MAX_ATTEMPTS, temporary=False, wait=0)
    result = await authenticator.authenticate(
        unquote(request.get(b"auth-user", b"").decode("latin-1")),
        unquote(request.get(b"auth-pass", b"").decode("latin-1")),
        protocol,
        request.get(b"client-ip", b"").decode("latin-1"),
    )
    if isinstance(result, AuthenticatedDevice):
        port = backends.ports[protocol]
        return [
            (b"auth-status", b"OK"),
            (b"auth-server", backends.host.encode()),
            (b"auth-port", str(port).encode()),
        ]
    temporary = result.reason != FailureReason.WRONG_CREDENTIALS
    return _failure(protocol, attempt, temporary, result.retry_after or 3)
