"""systemd's readiness protocol (``Type=notify``): datagrams such as ``READY=1`` to the
socket named by ``$NOTIFY_SOCKET``; watchdog pings every half ``$WATCHDOG_USEC``.
Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

log = logging.getLogger("mailward.sdnotify")


def _address(name: str) -> str:
    """An abstract socket (``@name``) is written with a leading NUL byte."""
    return "\0" + name[1:] if name.startswith("@") else name


def notify(state: str) -> bool:
    """Send ``state`` (``READY=1``, ``STOPPING=1``, ``WATCHDOG=1``); True if sent."""
    name = os.environ.get("NOTIFY_SOCKET")
    if not name:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(name))
            sock.sendall(state.encode())
    except OSError as exc:
        log.warning("could not tell systemd %s at %s: %s", state, name, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog period systemd set for this process (``WatchdogSec=``), or None."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000


async def ping_watchdog(interval: float) -> None:
    """WATCHDOG=1 every ``interval`` seconds while the event loop runs: a hung loop stops
    the pings and systemd restarts the service."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def start_watchdog() -> asyncio.Task[None] | None:
    interval = watchdog_interval()
    if interval is None:
        return None
    return asyncio.create_task(ping_watchdog(interval), name="systemd-watchdog")


async def stop_watchdog(task: asyncio.Task[None] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
