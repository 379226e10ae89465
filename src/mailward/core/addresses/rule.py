"""Where a new address's mailbox goes, and where an existing one is: see placement.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.db.models import Address
from mailward.settings import LEAST_USED, Settings


@dataclass(frozen=True)
class PlacementRule:
    """The backends' names in their configured order, and where new addresses go:
    ``fixed`` names one backend; None means the one holding the fewest addresses."""

    backends: tuple[str, ...] = ()
    fixed: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PlacementRule:
        rule = settings.mailbox_placement
        return cls(tuple(settings.mailbox_backends), None if rule == LEAST_USED else rule)

    def backend_of(self, address: Address) -> str | None:
        if not self.backends:
            return None
        return address.mailbox_backend or self.backends[0]

    async def place_new(self, session: AsyncSession) -> str | None:
        if not self.backends or self.fixed is not None:
            return self.fixed
        rows = await session.execute(
            select(Address.mailbox_backend, func.count())
            .where(Address.mailbox_backend.in_(self.backends))
            .group_by(Address.mailbox_backend)
        )
        counts = {str(name): int(count) for name, count in rows}
        return min(self.backends, key=lambda name: counts.get(name, 0))
