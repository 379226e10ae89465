"""A background task of ``mailward serve`` that runs one pass every ``period`` seconds
until stopped (domain re-checks, device upkeep). A pass handles its own errors."""

from __future__ import annotations

import asyncio
import contextlib

from mailward.tasks import stop_if_cancelled


class PeriodicPasses:
    task_name = "periodic"

    def __init__(self, period: float) -> None:
        self.period = period
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> object:
        """One pass; must not raise (the loop outlives a database outage)."""
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            await self.run_once()
            stop_if_cancelled()
