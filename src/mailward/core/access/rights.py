"""Asking ahead whether an actor may manage an organization, so an edge can explain
before showing a form (the use cases check again when they act)."""

from __future__ import annotations

from mailward.core.access.actors import Actor
from mailward.core.access.permissions import require_manager
from mailward.core.deps import CoreDeps


class RightsService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    async def require_manager(self, actor: Actor, organization_id: int, action: str) -> None:
        """Raises ``NotFound`` outside the organization, ``NotAllowed`` (saying who can)
        for a member without the right."""
        async with self.deps.db.unit_of_work() as uow:
            await require_manager(uow.session, actor, organization_id, action)
