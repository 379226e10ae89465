"""Bookkeeping shared by the listeners: live connection tasks, peer addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def peer_ip(transport: Any) -> str:
    """The client's IP address from a transport or stream writer ("" if unknown)."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return ""


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
