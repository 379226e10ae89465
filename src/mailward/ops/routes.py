"""``GET /metrics``, ``/healthz`` and ``/readyz`` on the auth endpoint's listener.

They answer clients on the loopback interface without the auth endpoint's shared secret,
and clients elsewhere that send ``Authorization: Bearer <metrics_token>`` when that
setting is set; anyone else gets 403. None of them reveals a secret.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from mailward.ops.health import NodeHealth

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
TEXT = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]
JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


def is_loopback(client: tuple[str, int] | None) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


class OpsRoutes:
    def __init__(self, health: NodeHealth, token: str | None = None) -> None:
        self.health = health
        self._token = f"Bearer {token}".encode() if token else None

    def allowed(self, client: tuple[str, int] | None, headers: dict[bytes, bytes]) -> bool:
        if is_loopback(client):
            return True
        given = headers.get(b"authorization", b"")
        return self._token is not None and hmac.compare_digest(given, self._token)

    async def answer(self, path: str) -> Answer:
        if path == "/metrics":
            return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], generate_latest(REGISTRY)
        if path == "/healthz":
            return 200, TEXT, b"ok\n"
        readiness = await self.health.readiness()
        body = json.dumps({"ready": readiness.ready, "checks": readiness.checks}).encode()
        return (200 if readiness.ready else 503), JSON, body
