"""The background upkeep of devices inside ``mailward serve``: every ``period`` seconds,
one pass that sends the pending new-network notices, applies the organizations' policy
on unused devices (notice, digest, revocation) and prunes old login history. A failing
step is logged and the next pass runs as usual; no login ever waits for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from mailward.core.devices.history import DeviceHistoryService
from mailward.core.devices.newnetworks import NewNetworkNotices
from mailward.core.devices.unused import UnusedDevices
from mailward.periodic import PeriodicPasses

log = logging.getLogger(__name__)


class DeviceUpkeep(PeriodicPasses):
    task_name = "device-upkeep"

    def __init__(
        self,
        notices: NewNetworkNotices,
        unused: UnusedDevices,
        history: DeviceHistoryService,
        period: float,
        step_timeout: float = 120.0,
    ) -> None:
        super().__init__(period)
        self.steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("new-network notices", notices.send_pending),
            ("unused devices", unused.sweep),
            ("login history pruning", history.prune),
        ]
        self.step_timeout = step_timeout

    async def run_once(self) -> None:
        for name, step in self.steps:
            try:
                async with asyncio.timeout(self.step_timeout):  # wait_for could swallow a stop
                    await step()
            except Exception as exc:  # the loop must outlive a database outage
                log.warning("device upkeep: %s failed: %s", name, exc.__class__.__name__)
