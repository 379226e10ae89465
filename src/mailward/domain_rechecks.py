"""The background re-checks of pending domains inside ``mailward serve``.

One small task: every ``period`` seconds it runs one bounded pass of
:meth:`DomainChecks.check_due` (at most ``domain_checks_per_pass`` domains, each lookup
with its own time limit, the pass as a whole too). A failing pass is logged and the next
one runs as usual; nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import logging

from mailward.core.mailservices.domainchecks import DomainChecks
from mailward.periodic import PeriodicPasses

log = logging.getLogger(__name__)


class DomainRechecks(PeriodicPasses):
    task_name = "domain-rechecks"

    def __init__(self, checks: DomainChecks, period: float, pass_timeout: float) -> None:
        super().__init__(period)
        self.checks = checks
        self.pass_timeout = pass_timeout

    async def run_once(self) -> int:
        """One pass; how many domains it looked at (0 when it failed)."""
        try:
            async with asyncio.timeout(self.pass_timeout):  # wait_for could swallow a stop
                return await self.checks.check_due()
        except TimeoutError:
            log.warning("domain re-check pass took longer than %.0f s", self.pass_timeout)
        except Exception as exc:  # the loop must outlive a database outage
            log.warning("domain re-check pass failed: %s", exc.__class__.__name__)
        return 0


def rechecks_for(checks: DomainChecks, interval: float, dns_timeout: float) -> DomainRechecks:
    """Passes at most a minute apart (a domain's own due time says when it is looked at)."""
    return DomainRechecks(checks, min(interval, 60.0), pass_timeout=4 * dns_timeout + 30)
