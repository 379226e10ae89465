"""Bookkeeping shared by the listeners: live connection tasks, peer addresses, the
per-network and total connection caps, and the limits that bound a client before login."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mailward.core.networks import IPV6_PREFIX, client_network
from mailward.settings import Settings


def peer_ip(transport: Any) -> str:
    """The client's IP address from a transport or stream writer ("" if unknown)."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


def drop_unencrypted_input(reader: asyncio.StreamReader) -> None:
    """Forget whatever the client sent before the TLS handshake (RFC 3207 §4.2,
    RFC 2595 §3.1): commands pipelined behind STARTTLS must not run inside TLS.
    StreamReader has no public way to do this; aiosmtpd clears the same buffer."""
    buffered = getattr(reader, "_buffer", None)
    if isinstance(buffered, bytearray):
        buffered.clear()


@dataclass(frozen=True)
class FrontLimits:
    """Bounds on a mail client, most of them before it has logged in."""

    line_bytes: int = 8192
    literal_before_login: int = 4096
    commands_before_login: int = 20
    login_timeout: float = 60.0
    idle_timeout: float = 1800.0

    @classmethod
    def from_settings(cls, settings: Settings, idle_timeout: float) -> FrontLimits:
        return cls(
            line_bytes=settings.mail_line_bytes,
            literal_before_login=settings.mail_literal_before_login_bytes,
            commands_before_login=settings.mail_commands_before_login,
            login_timeout=settings.mail_login_timeout_seconds,
            idle_timeout=idle_timeout,
        )


class ConnectionGate:
    """Open connections counted per network and in total; a connection over either
    cap is refused at once (the listener says so and closes)."""

    def __init__(self, total: int, per_network: int, ipv6_prefix: int = IPV6_PREFIX) -> None:
        self.total = total
        self.per_network = per_network
        self.ipv6_prefix = ipv6_prefix
        self._open: Counter[str] = Counter()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def enter(self, ip: str) -> str | None:
        """The network counted, or ``None`` when a cap is reached (nothing counted)."""
        network = client_network(ip, self.ipv6_prefix)
        if self._open[network] >= self.per_network or self._count >= self.total:
            return None
        self._open[network] += 1
        self._count += 1
        return network

    def leave(self, network: str) -> None:
        self._count -= 1
        self._open[network] -= 1
        if self._open[network] <= 0:
            del self._open[network]

    @contextmanager
    def admitting(self, ip: str) -> Iterator[bool]:
        network = self.enter(ip)
        try:
            yield network is not None
        finally:
            if network is not None:
                self.leave(network)


class ConnectionTracker:
    """The tasks serving open connections, so shutdown can end them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @contextmanager
    def tracking(self, task: asyncio.Task[Any]) -> Iterator[None]:
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    def __len__(self) -> int:
        return len(self._tasks)

    async def close_all(self, grace: float) -> None:
        """Cancel every connection task and wait (bounded) for them to say goodbye."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
