"""What a device looks like from outside: its view (never its secret), the one-time
result that carries a new password, and its options (expiry, protocols, networks)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from mailward.core.rows import view_of
from mailward.db.models import Device
from mailward.errors import InvalidInput

PROTOCOLS = ("imap", "pop3", "smtp")


@dataclass(frozen=True)
class DeviceView:
    """Everything about a device but its secret."""

    id: int
    address_id: int
    address: str
    name: str
    user_email: str | None
    password_kind: str
    created_by: str
    created_at: datetime
    password_changed_at: datetime
    last_used_at: datetime | None
    last_used_ip: str | None
    last_used_protocol: str | None
    last_used_client: str | None
    expires_at: datetime | None
    allowed_protocols: list[str]
    allowed_networks: list[str]
    revoked_at: datetime | None
    status: str


@dataclass(frozen=True)
class NewDevicePassword:
    """The one response that carries the password in clear."""

    device: DeviceView
    password: str = field(repr=False)


@dataclass(frozen=True)
class DeviceOptions:
    expires_at: datetime | None = None
    protocols: tuple[str, ...] = PROTOCOLS
    networks: tuple[str, ...] = ()


def parse_protocols(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if not values:
        return PROTOCOLS
    chosen = {v.strip().lower() for v in values if v.strip()}
    unknown = chosen - set(PROTOCOLS)
    if unknown or not chosen:
        raise InvalidInput("protocols", f"choose among {', '.join(PROTOCOLS)}")
    return tuple(p for p in PROTOCOLS if p in chosen)


def parse_networks(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    networks = []
    for value in values or ():
        if not value.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidInput(
                "networks", f"{value!r} is not a network (like 192.0.2.0/24)"
            ) from None
    return tuple(networks)


def device_status(device: Device, now: datetime) -> str:
    if device.revoked_at is not None:
        return "revoked"
    if device.expires_at is not None and device.expires_at <= now:
        return "expired"
    return "active"


def device_view(device: Device, email: str, user_email: str | None, now: datetime) -> DeviceView:
    return view_of(
        DeviceView,
        device,
        address=email,
        user_email=user_email,
        allowed_protocols=[p for p in device.allowed_protocols.split(",") if p],
        allowed_networks=[n for n in device.allowed_networks.split(",") if n],
        status=device_status(device, now),
    )
