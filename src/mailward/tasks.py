"""Background loops and the cancel that stops them."""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raises the cancel a library swallowed, so that a loop stops when told. On Python
    3.11 ``asyncio.wait_for`` (aiosmtplib reads every SMTP answer through it, asyncpg
    waits with it) returns the result and drops a cancel that lands as the result
    arrives; the task is still marked as cancelling, and without this check the loop ran
    on and whoever stopped it waited forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
