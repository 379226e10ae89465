"""What the SMTP listeners do with an envelope: submission (authenticated devices,
"send as yourself", local delivery or the smarthost spool) and inbound (the MX side,
local recipients only). A message is on disk, fsynced, before the 250 reply."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailward.clock import Clock
from mailward.core.names import normalize_email
from mailward.errors import InvalidInput
from mailward.mail.directory import AddressDirectory
from mailward.mail.dkim_signing import DkimSigner
from mailward.mail.inbound_checks import Arrival, InboundChecks, without_forged_results
from mailward.mail.maildir import MailStore
from mailward.mail.message import completed_headers, prepend, queue_id, received_line
from mailward.mail.smtp_protocol import authenticated_device
from mailward.mail.spool import Spool

log = logging.getLogger(__name__)

OK = "250 2.0.0 OK"
NOT_LOCAL = "550 5.1.1 <{}>: no such address here"
NO_RELAY = "550 5.7.1 <{}>: relay access denied (this server accepts mail for its own domains only)"
NO_SMARTHOST = (
    "550 5.7.1 <{}>: this server does not send mail to other domains (no smarthost is configured)"
)
BAD_ADDRESS = "553 5.1.3 <{}>: not a valid address"
NOT_YOURS = "553 5.7.1 <{}>: you may send only as {}"
STORE_FAILED = "451 4.3.0 Could not store the message, try again later"


@dataclass
class Route:
    """Where the envelope's recipients go: local inboxes and the smarthost spool."""

    local: dict[str, int] = field(default_factory=dict)
    remote: list[str] = field(default_factory=list)


def route_of(envelope: Any) -> Route:
    route = envelope.__dict__.get("mailward_route")
    if route is None:
        route = envelope.__dict__["mailward_route"] = Route()
    assert isinstance(route, Route)
    return route


def clean_address(address: str) -> str | None:
    try:
        return normalize_email(address)
    except InvalidInput:
        return None


@dataclass
class Delivery:
    """What both handlers share."""

    directory: AddressDirectory
    store: MailStore
    hostname: str
    clock: Clock


class LocalHandler:
    """Accepts our own addresses as recipients and stores the message in their inboxes."""

    protocol_name = "ESMTP"

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        clean = clean_address(address)
        if clean is None:
            return BAD_ADDRESS.format(address)
        address_id = await self.delivery.directory.address_id(clean)
        if address_id is not None:
            route_of(envelope).local[clean] = address_id
            envelope.rcpt_tos.append(address)
            return OK
        return await self.refuse(clean)

    async def refuse(self, clean: str) -> str:
        domain = clean.rpartition("@")[2]
        if await self.delivery.directory.is_local_domain(domain):
            return NOT_LOCAL.format(clean)
        return NO_RELAY.format(clean)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal, checked = await self.screened(session, envelope)
        if refusal is not None:
            return refusal
        content = await self.signed(envelope, self.prepared(session, envelope, *checked))
        route = route_of(envelope)
        try:
            await self.store(route, envelope, content)
        except OSError as exc:
            log.error("storing a message failed: %s", exc)
            return STORE_FAILED
        return OK

    async def screened(self, session: Any, envelope: Any) -> tuple[str | None, tuple[bytes, ...]]:
        """A refusal of the message, or the header lines its checks add."""
        return None, ()

    async def signed(self, envelope: Any, content: bytes) -> bytes:
        """The message as stored and sent on (submission adds DKIM signatures)."""
        return content

    def prepared(self, session: Any, envelope: Any, *checked: bytes) -> bytes:
        now = self.delivery.clock.now()
        original = envelope.original_content or b""
        added = self.added_headers(original, now)
        return prepend(original, *checked, self.received(session, now), *added)

    def received(self, session: Any, now: datetime) -> bytes:
        protocol = self.protocol_name + ("S" if session.ssl else "")
        if authenticated_device(session) is not None:
            protocol = "ESMTPSA"
        peer = session.peer[0] if session.peer else ""
        return received_line(
            session.host_name, peer, self.delivery.hostname, protocol, queue_id(), now
        )

    def added_headers(self, original: bytes, now: datetime) -> tuple[bytes, ...]:
        return ()

    async def store(self, route: Route, envelope: Any, content: bytes) -> None:
        await self.delivery.store.deliver(set(route.local.values()), content)


class InboundHandler(LocalHandler):
    """Port 25 duty: anyone may send, to our addresses only; no AUTH offered. With
    ``checks``, SPF, DKIM and DMARC decide and are recorded before the message is stored."""

    def __init__(self, delivery: Delivery, checks: InboundChecks | None) -> None:
        super().__init__(delivery)
        self.checks = checks

    async def screened(self, session: Any, envelope: Any) -> tuple[str | None, tuple[bytes, ...]]:
        if self.checks is None:
            return None, ()
        arrival = Arrival(
            ip=session.peer[0] if session.peer else "",
            helo=session.host_name or "",
            mail_from=envelope.mail_from or "",
            content=envelope.original_content or b"",
        )
        verdict = await self.checks.verdict(arrival)
        hostname = self.checks.authserv_id
        envelope.original_content = without_forged_results(arrival.content, hostname)
        return verdict.refusal, (verdict.header,)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [line for line in responses if not line.startswith("250-AUTH")]


class SubmissionHandler(LocalHandler):
    """Authenticated devices: they send as their own address, to anyone (through the
    smarthost spool when one is configured)."""

    def __init__(
        self, delivery: Delivery, spool: Spool | None, signer: DkimSigner | None = None
    ) -> None:
        super().__init__(delivery)
        self.spool = spool
        self.signer = signer

    async def signed(self, envelope: Any, content: bytes) -> bytes:
        if self.signer is None:
            return content
        return await self.signer.sign(content, str(envelope.mail_from).rpartition("@")[2])

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        device = authenticated_device(session)
        if device is None:
            return "530 5.7.0 Authentication required"
        if clean_address(address) != device.address.lower():
            return NOT_YOURS.format(address, device.address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return OK

    async def refuse(self, clean: str) -> str:
        domain = clean.rpartition("@")[2]
        if await self.delivery.directory.is_local_domain(domain):
            return NOT_LOCAL.format(clean)
        return NO_SMARTHOST.format(clean)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = await super().handle_RCPT(server, session, envelope, address, rcpt_options)
        clean = clean_address(address)
        if reply == OK or self.spool is None or clean is None:
            return reply
        if await self.delivery.directory.is_local_domain(clean.rpartition("@")[2]):
            return reply
        route_of(envelope).remote.append(clean)
        envelope.rcpt_tos.append(address)
        return OK

    def added_headers(self, original: bytes, now: datetime) -> tuple[bytes, ...]:
        return (completed_headers(original, self.delivery.hostname, now),)

    async def store(self, route: Route, envelope: Any, content: bytes) -> None:
        await super().store(route, envelope, content)
        if route.remote and self.spool is not None:
            await self.spool.enqueue(envelope.mail_from, route.remote, content)
