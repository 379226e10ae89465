"""Who is acting, and from where: passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

OPERATOR_LABEL = "operator"


@dataclass(frozen=True)
class Actor:
    """A signed-in account, or the operator (the ``mailward`` CLI, full rights).

    ``organization_id`` confines the actor to one organization (an API token is scoped
    to one): every other organization then does not exist for them."""

    account_id: int | None
    label: str
    ip: str | None = None
    organization_id: int | None = None

    @classmethod
    def operator(cls) -> Actor:
        return cls(account_id=None, label=OPERATOR_LABEL)

    @property
    def is_operator(self) -> bool:
        return self.account_id is None
