"""Which addresses are local: the mail servers' read-only view of the address book."""

from __future__ import annotations

from typing import Protocol

from mailward.core.addresses.service import find_local_address
from mailward.core.mailservices.service import MailServiceService
from mailward.core.names import normalize_domain
from mailward.db.engine import Database
from mailward.errors import InvalidInput


class AddressDirectory(Protocol):
    async def address_id(self, email: str) -> int | None:
        """The id of the local address ``email``, or ``None`` when it is not one of
        ours (or not an address at all)."""
        ...

    async def is_local_domain(self, domain: str) -> bool: ...


class DatabaseDirectory:
    def __init__(self, db: Database, mail_services: MailServiceService) -> None:
        self.db = db
        self.mail_services = mail_services

    async def address_id(self, email: str) -> int | None:
        try:
            async with self.db.unit_of_work() as uow:
                found = await find_local_address(uow.session, email)
        except InvalidInput:
            return None
        return found[0].id if found else None

    async def is_local_domain(self, domain: str) -> bool:
        try:
            normalize_domain(domain)
        except InvalidInput:
            return False
        return await self.mail_services.is_local_domain(domain)
