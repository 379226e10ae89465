"""Fakes for unit tests of the core use cases: no files, no servers, no Argon2 cost.

The core works on SQLAlchemy sessions, so its honest fake unit of work is an in-memory
SQLite database (one connection, schema from the models) rather than dictionaries that
would re-implement its queries. Everything else a use case receives is faked here: a
frozen clock, a cheap hasher, memory limit counters, a DNS lookup that answers what the
test says (tests.mailbox.CapturingMailer keeps the mail).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from mailward.clock import FrozenClock
from mailward.core.access.actors import Actor
from mailward.core.accounts.service import AccountService
from mailward.core.addresses.service import AddressService
from mailward.core.deps import CoreDeps, DeviceChangeNotice
from mailward.core.devices.service import DeviceService
from mailward.core.mailservices.domainproof import DnsProblem, TxtAnswer
from mailward.core.mailservices.service import MailServiceService
from mailward.core.organizations.service import OrganizationService
from mailward.core.passwords import PasswordHasher
from mailward.db.base import Base
from mailward.db.engine import Database, _sqlite_pragmas
from mailward.keys import ServerKeys
from mailward.limitstore import MemoryRateLimitStore
from tests.support import ADMIN_PASSWORD

PASSWORD = ADMIN_PASSWORD


class InMemoryDatabase(Database):
    """The real unit of work over an SQLite database in memory (one connection shared
    by every session), gone with the test."""

    def __init__(self) -> None:
        self.url = "sqlite+aiosqlite://"
        self.engine = create_async_engine(self.url, poolclass=StaticPool)
        event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create_schema(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)


class CheapHasher(PasswordHasher):
    """Argon2id at its smallest cost, computed in the event loop: the same answers
    shape as the real pool, microseconds instead of tens of milliseconds."""

    def __init__(self) -> None:
        super().__init__(workers=1, memory_kib=8)

    async def stretch(self, password: str, salt: bytes | None) -> bytes:
        return self.stretch_sync(password, salt or self.dummy_salt)

    async def hash(self, password: str) -> str:
        return self.hash_sync(password)

    async def verify(self, stored: str | None, password: str) -> bool:
        return self.verify_sync(stored, password)


@dataclass
class KeptDeviceEvents:
    """Device changes published after their commit, in order."""

    notices: list[DeviceChangeNotice] = field(default_factory=list)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        self.notices.append(notice)


@dataclass
class ScriptedDns:
    """TXT answers set by the test, by name; a name never set does not exist."""

    answers: dict[str, TxtAnswer] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def txt(self, name: str) -> TxtAnswer:
        self.asked.append(name)
        return self.answers.get(name, TxtAnswer(problem=DnsProblem.NXDOMAIN))


@dataclass
class Core:
    """The core use cases over fakes, and one organization to act in: Corp, with a
    legal representative, an administrator and a user member (all accepted), the
    verified Mail Service example.test and the address info@example.test."""

    deps: CoreDeps
    events: KeptDeviceEvents
    org_id: int = 0
    legal: Actor = field(default_factory=Actor.operator)
    admin: Actor = field(default_factory=Actor.operator)
    user: Actor = field(default_factory=Actor.operator)
    address: str = "info@example.test"
    domain: str = "example.test"

    def __post_init__(self) -> None:
        assert isinstance(self.deps.clock, FrozenClock)
        self.clock = self.deps.clock
        self.accounts = AccountService(self.deps)
        self.organizations = OrganizationService(self.deps)
        self.mail_services = MailServiceService(self.deps)
        self.addresses = AddressService(self.deps)
        self.devices = DeviceService(self.deps)


async def open_core() -> AsyncIterator[Core]:
    db = InMemoryDatabase()
    await db.create_schema()
    events = KeptDeviceEvents()
    deps = CoreDeps(
        db=db,
        keys=ServerKeys.generate(),
        hasher=CheapHasher(),
        clock=FrozenClock(),
        device_events=events,
        limit_store=MemoryRateLimitStore(),
    )
    try:
        yield Core(deps=deps, events=events)
    finally:
        deps.close_hashers()
        await db.dispose()


async def populate(core: Core) -> Core:
    op = Actor.operator()
    people = {}
    for role, name in (("legal", "Lena Legal"), ("admin", "Adam Admin"), ("user", "Ursula User")):
        view = await core.accounts.create(op, f"{role}@corp.test", PASSWORD, name)
        people[role] = Actor(view.id, view.email, "192.0.2.1")
    org = await core.organizations.create(op, "Corp", legal_representative="legal@corp.test")
    await core.organizations.add_member(op, org.id, "admin@corp.test", "administrator")
    await core.organizations.add_member(op, org.id, "user@corp.test", "user")
    await core.mail_services.create(op, org.id, core.domain)
    await core.addresses.create_by_email(op, core.address)
    core.org_id = org.id
    core.legal, core.admin, core.user = people["legal"], people["admin"], people["user"]
    return core
