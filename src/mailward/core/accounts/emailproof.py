"""Proof of control of an email address (DESIGN §7): an account belongs to whoever
reads its mailbox.

Setting an account's first password, or a new one without the old, takes a one-time
code mailed to the account's own address and never shown to anyone else (not to the
administrator who invited them). Where the address is a verified Mail Service of this
server, the code lands in that mailbox; elsewhere it goes out through the smarthost.
Codes have 12 characters (60 bits), last 30 minutes, work once, and are kept only as
keyed hashes. Nobody guesses one in its 30 minutes at 20 tries per client network, so
wrong tries are limited per network only: someone else's wrong tries never lock the
owner out (DESIGN §7). Asking for codes is limited per network, and per email silently
(the newest code already in the mailbox keeps working). No answer says whether an
account exists.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.accounts.service import AccountView, check_account_password, find_account
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.limits import Limit
from mailward.core.networks import client_network
from mailward.core.notifications import Mailer, compose_email, email_html
from mailward.core.signin.limits import FailureWindow, TooManyAttempts
from mailward.db.models import Account, EmailProof
from mailward.errors import InvalidInput

log = logging.getLogger(__name__)

CODE_LIFETIME = timedelta(minutes=30)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
CODE_LENGTH = 12  # 60 bits
CODE_PURPOSE = "email-proof"
EMAIL_KEY_PURPOSE = "email-proof-counter"
SEND_LIMIT = Limit("email.proof_send", 3)
SEND_IP_LIMIT = Limit("ip.proof_send", 20)
CHECK_IP_LIMIT = Limit("ip.proof_check", 20)
WRONG_CODE = "the code is wrong or has expired; ask for a new one"


def normalize_code(code: str) -> str:
    """What the person typed, without spaces, dashes or case."""
    return "".join(ch for ch in code.upper() if ch in CODE_ALPHABET)[: CODE_LENGTH + 1]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``ABCDEFGHJKLM`` -> ``ABCD-EFGH-JKLM``, easier to read and type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True)
class ProofRequest:
    """Whose email is to be proved, asked from which client IP."""

    email: str
    ip: str


def proof_message(sender: str, to: str, code: str, public_url: str, at: datetime) -> EmailMessage:
    paragraphs = [
        f"Your Mailward code: {format_code(code)}",
        f"Enter it on the page that asked for it, at {public_url}, to choose the password "
        f"of your Mailward account ({to}). It works once, for 30 minutes.",
        "Nobody from Mailward or your organization will ask you for this code. If you did "
        "not ask for it, ignore this message: your account stays as it is.",
    ]
    subject = "Your Mailward code"
    text = "\n\n".join(paragraphs) + "\n"
    return compose_email(sender, [to], subject, text, email_html(subject, paragraphs), at)


class EmailProofService:
    def __init__(self, deps: CoreDeps, mailer: Mailer, sender: str, public_url: str) -> None:
        self.deps = deps
        self.mailer = mailer
        self.sender = sender
        self.public_url = public_url
        self.limits = FailureWindow(deps.limit_store)

    def _email_key(self, email: str) -> str:
        # Keyed: the counters may live in a shared Redis.
        return self.deps.keys.mac(EMAIL_KEY_PURPOSE, email.encode()).hex()[:32]

    async def new_code(self, request: ProofRequest) -> EmailMessage | None:
        """A new code for the account of ``request.email``, in the message to mail to
        it (None when there is no such account, or when that email had its share of
        codes lately: the caller answers the same either way, and sends the message
        after answering). The previous code stops working. Raises
        :class:`~mailward.core.signin.limits.TooManyAttempts` when the client's network asked
        too often."""
        email = request.email.strip().lower()
        email_counter = (SEND_LIMIT, self._email_key(email))
        ip_counter = (SEND_IP_LIMIT, client_network(request.ip))
        await self.limits.check(ip_counter)
        try:
            await self.limits.check(email_counter)
            asked_lately = False
        except TooManyAttempts:
            asked_lately = True  # someone asks for this email a lot: its newest code stays
        await self.limits.fail(ip_counter, email_counter)
        if asked_lately:
            return None
        code = new_code()
        async with self.deps.db.unit_of_work() as uow:
            try:
                account = await find_account(uow.session, email)
            except InvalidInput:
                account = None
            if account is None:
                return None
            await self._store(uow.session, account, code)
        return proof_message(self.sender, account.email, code, self.public_url, self._now())

    async def send(self, message: EmailMessage) -> None:
        """Mail the code; the outcome is logged without the code or the address."""
        result = await self.mailer.send(message)
        log.info("email proof code: %d delivered, %d not", len(result.delivered),
                 len(result.undelivered))  # fmt: skip

    async def _store(self, session: AsyncSession, account: Account, code: str) -> None:
        now = self._now()
        await session.execute(
            update(EmailProof)
            .where(EmailProof.account_id == account.id, EmailProof.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        keys = self.deps.keys
        session.add(
            EmailProof(
                account_id=account.id,
                code_hash=self._hash(account.id, code, keys.current_id),
                key_id=keys.current_id,
                created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )

    def _hash(self, account_id: int, code: str, key_id: str) -> bytes:
        return self.deps.keys.mac(
            CODE_PURPOSE, account_id.to_bytes(8, "big"), code.encode(), key_id=key_id
        )

    def _now(self) -> datetime:
        return self.deps.clock.now()

    async def set_password(self, request: ProofRequest, code: str, password: str) -> AccountView:
        """With the right code, the account gets ``password`` and is active. Raises
        ``InvalidInput`` (the same for a wrong code and an unknown email) or
        ``TooManyAttempts``."""
        email = request.email.strip().lower()
        counter = (CHECK_IP_LIMIT, client_network(request.ip))
        await self.limits.check(counter)
        check_account_password(password, email)
        async with self.deps.db.unit_of_work() as uow:
            account = await self._proved(uow.session, email, normalize_code(code))
            if account is None:
                await self.limits.fail(counter)
                raise InvalidInput("code", WRONG_CODE)
            account.password_hash = await self.deps.hasher.hash(password)
            account.status = "active"
            actor = Actor(account.id, account.email, request.ip)
            target, now = AuditTarget(label=account.email), self._now()
            record(uow.session, actor, AuditTag.ACCOUNT_EMAIL_PROOF, target, now)
            record(
                uow.session, actor, AuditTag.ACCOUNT_PASSWORD_CHANGE, target, now,
                via="email proof",
            )  # fmt: skip
            return AccountView.of(account)

    async def _proved(self, session: AsyncSession, email: str, code: str) -> Account | None:
        """The account, if ``code`` is its live code; the code is used up then."""
        try:
            account = await find_account(session, email)
        except InvalidInput:
            return None
        if account is None or len(code) != CODE_LENGTH:
            return None
        now = self._now()
        proof = await session.scalar(
            select(EmailProof)
            .where(
                EmailProof.account_id == account.id,
                EmailProof.used_at.is_(None),
                EmailProof.expires_at > now,
            )
            .order_by(EmailProof.id.desc())
            .limit(1)
        )
        if proof is None or proof.key_id not in self.deps.keys.keys:
            return None
        if not hmac.compare_digest(proof.code_hash, self._hash(account.id, code, proof.key_id)):
            return None
        used = await session.execute(
            update(EmailProof)
            .where(EmailProof.id == proof.id, EmailProof.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return account if getattr(used, "rowcount", 0) == 1 else None
