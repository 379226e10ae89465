"""The client's IP, decided in one place for the web manager, the API and the audit log.

It is the socket's peer. Only when the peer is one of ``trusted_proxies`` does uvicorn
(configured by :func:`proxy_options`) replace it with the last address of
``X-Forwarded-For`` that is not itself a trusted proxy; with the default (no trusted
proxy) the header is ignored, so nobody can choose the IP their failures count under.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import HTTPConnection

from mailward.settings import Settings

UNKNOWN = "unknown"


def client_ip(request: HTTPConnection) -> str:
    """The client's address, or ``"unknown"`` when there is none that parses as an IP."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return UNKNOWN


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: forwarded headers are read only from the trusted proxies."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}
