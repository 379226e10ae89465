"""The network a login came from, as the notice on a new network counts them: an IPv4
address's /24, an IPv6 address's /48 (an IPv4-mapped IPv6 address counts as IPv4).
A client IP that is not an address ("unknown", a Unix socket) has no network."""

from __future__ import annotations

import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def network_of(client_ip: str) -> str | None:
    try:
        ip = ipaddress.ip_address(client_ip.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
