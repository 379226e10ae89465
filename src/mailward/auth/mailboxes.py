"""Where a Dovecot proxy sends an address's sessions and deliveries: the mailbox backend
of its placement (:mod:`mailward.core.addresses.placement`).

Read from the database at each proxied login, never cached: after ``mailward address
move`` switches the placement and ends the old sessions, the very next login must land
on the new backend. The read is one primary-key lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from mailward.core.addresses.rule import PlacementRule
from mailward.core.addresses.service import find_local_address
from mailward.db.engine import Database
from mailward.db.models import Address
from mailward.errors import MailwardError
from mailward.settings import MailboxBackend, Settings

PORTS = {"imap": "imap_port", "pop3": "pop3_port", "lmtp": "lmtp_port"}


@dataclass(frozen=True)
class Destination:
    """A backend's host and the port of one protocol there."""

    host: str
    port: int


class UnknownAddress(Exception):
    pass


class MailboxLocator(Protocol):
    async def for_address_id(self, address_id: int, protocol: str) -> Destination | None:
        """The backend of a logged-in address; None on one machine or for a protocol that
        is not proxied (SMTP AUTH). Database errors propagate."""
        ...

    async def for_email(self, email: str, protocol: str) -> Destination | None:
        """The backend of ``local@domain`` (LMTP delivery); raises UnknownAddress."""
        ...


class OneMachine:
    """No backends: every mailbox is on this machine's Dovecot, nothing is proxied."""

    async def for_address_id(self, address_id: int, protocol: str) -> Destination | None:
        return None

    async def for_email(self, email: str, protocol: str) -> Destination | None:
        raise UnknownAddress(email)


class PlacedMailboxes:
    def __init__(self, db: Database, backends: dict[str, MailboxBackend]) -> None:
        self.db = db
        self.backends = backends
        self.rule = PlacementRule(tuple(backends))

    def _destination(self, address: Address, protocol: str) -> Destination | None:
        name = self.rule.backend_of(address)
        if name is None or protocol not in PORTS:
            return None
        backend = self.backends.get(name)
        if backend is None:  # placed on a backend since removed from the settings
            raise LookupError(f"mailbox backend {name!r} is not configured")
        return Destination(backend.host, int(getattr(backend, PORTS[protocol])))

    async def for_address_id(self, address_id: int, protocol: str) -> Destination | None:
        if protocol not in PORTS:
            return None
        async with self.db.unit_of_work() as uow:
            address = await uow.session.scalar(select(Address).where(Address.id == address_id))
        return None if address is None else self._destination(address, protocol)

    async def for_email(self, email: str, protocol: str) -> Destination | None:
        try:
            async with self.db.unit_of_work() as uow:
                found = await find_local_address(uow.session, email)
        except MailwardError:  # not an address at all
            found = None
        if found is None:
            raise UnknownAddress(email)
        return self._destination(found[0], protocol)


def mailbox_locator(db: Database, settings: Settings) -> MailboxLocator:
    if not settings.mailbox_backends:
        return OneMachine()
    return PlacedMailboxes(db, settings.mailbox_backends)
