"""The background pruning of ``mailward serve``: every ``period`` seconds, one pass that
deletes what has outlived its retention (core/retention.py). A failing pass is logged
and the next runs as usual."""

from __future__ import annotations

import logging

from mailward.core.retention import Pruned, RetentionService
from mailward.periodic import PeriodicPasses

log = logging.getLogger(__name__)


class RetentionPruning(PeriodicPasses):
    task_name = "retention-pruning"

    def __init__(self, retention: RetentionService, period: float) -> None:
        super().__init__(period)
        self.retention = retention

    async def run_once(self) -> Pruned | None:
        try:
            pruned = await self.retention.prune()
        except Exception as exc:  # the loop must outlive a database outage
            log.warning("retention pruning failed: %s", exc.__class__.__name__)
            return None
        if any(vars(pruned).values()):
            log.info("pruned %s", ", ".join(f"{k} {v}" for k, v in vars(pruned).items()))
        return pruned
