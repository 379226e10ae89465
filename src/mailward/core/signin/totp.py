"""The second factor: TOTP (RFC 6238) and one-time recovery codes.

The TOTP secret is stored sealed with a server key; recovery codes are stored as keyed
hashes and shown once, when they are made.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.db.models import Account, RecoveryCode
from mailward.errors import Conflict, InvalidInput, NotFound

ISSUER = "Mailward"
TOTP_PURPOSE = "totp-secret"
RECOVERY_PURPOSE = "recovery-code"
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
DRIFTS = (0, -1, 1)  # time steps accepted around now


def _used_step_key(account_id: int, step: int) -> str:
    return f"totp.used:{account_id}:{step}"


@dataclass(frozen=True)
class Enrolment:
    """A secret waiting for its first code; shown to its owner as a QR code and text."""

    email: str
    secret: str = field(repr=False)

    @property
    def uri(self) -> str:
        return pyotp.TOTP(self.secret).provisioning_uri(name=self.email, issuer_name=ISSUER)


def _normalize_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


class SecondFactorService:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    def _recovery_hash(self, account_id: int, code: str) -> bytes:
        return self.deps.keys.mac(
            RECOVERY_PURPOSE, account_id.to_bytes(8, "big"), _normalize_code(code).encode()
        )

    async def begin_enrolment(self, account_id: int) -> Enrolment:
        """The pending secret of an account without 2FA, made on first call."""
        async with self.deps.db.unit_of_work() as uow:
            account = await self._account(uow.session, account_id)
            if account.totp_enabled_at is not None:
                raise Conflict("two-factor authentication is already set up")
            if account.totp_secret_sealed:
                secret = self.deps.keys.unseal(TOTP_PURPOSE, account.totp_secret_sealed).decode()
            else:
                secret = pyotp.random_base32()
                account.totp_secret_sealed = self.deps.keys.seal(TOTP_PURPOSE, secret.encode())
            return Enrolment(account.email, secret)

    async def confirm_enrolment(self, actor: Actor, account_id: int, code: str) -> list[str]:
        """Turn 2FA on once a code from the new secret checks; returns the recovery
        codes, in clear this once."""
        async with self.deps.db.unit_of_work() as uow:
            account = await self._account(uow.session, account_id)
            if account.totp_enabled_at is not None or not account.totp_secret_sealed:
                raise Conflict("no two-factor set-up is waiting for confirmation")
            if not await self._totp_ok(account, code):
                raise InvalidInput("code", "does not match; check your device's clock and retry")
            now = self.deps.clock.now()
            account.totp_enabled_at = now
            await uow.session.execute(
                delete(RecoveryCode).where(RecoveryCode.account_id == account_id)
            )
            codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
            for plain in codes:
                code_hash = self._recovery_hash(account_id, plain)
                uow.session.add(RecoveryCode(account_id=account_id, code_hash=code_hash))
            target = AuditTarget(label=account.email)
            record(uow.session, actor, AuditTag.ACCOUNT_TOTP_ENABLE, target, now)
            return codes

    async def is_enabled(self, account_id: int) -> bool:
        async with self.deps.db.unit_of_work() as uow:
            account = await self._account(uow.session, account_id)
            return account.totp_enabled_at is not None

    async def verify(self, account_id: int, code: str) -> bool:
        """A current TOTP code, or an unused recovery code (used up by this call)."""
        async with self.deps.db.unit_of_work() as uow:
            account = await self._account(uow.session, account_id)
            if account.totp_enabled_at is None:
                return False
            if await self._totp_ok(account, code):
                return True
            row = await uow.session.scalar(
                select(RecoveryCode).where(
                    RecoveryCode.account_id == account_id,
                    RecoveryCode.code_hash == self._recovery_hash(account_id, code),
                    RecoveryCode.used_at.is_(None),
                )
            )
            if row is None:
                return False
            row.used_at = self.deps.clock.now()
            return True

    async def _totp_ok(self, account: Account, code: str) -> bool:
        code = _normalize_code(code)
        if not account.totp_secret_sealed or len(code) != 6 or not code.isdigit():
            return False
        secret = self.deps.keys.unseal(TOTP_PURPOSE, account.totp_secret_sealed).decode()
        totp = pyotp.TOTP(secret)
        now = self.deps.clock.now()
        for drift in DRIFTS:
            step = totp.timecode(now) + drift
            if secrets.compare_digest(totp.generate_otp(step), code):
                return await self._first_use(account.id, step, totp.interval)
        return False

    async def _first_use(self, account_id: int, step: int, interval: int) -> bool:
        """A code is good once (RFC 6238 §5.2), on any node: its time step is flagged
        in the shared store, and so are the earlier steps still within the drift, so
        that an older code is refused once a newer one was accepted. The key holds the
        account and the step number, never the code."""
        store = self.deps.limit_store
        ttl = interval * (len(DRIFTS) + 1)
        if not await store.add_flag(_used_step_key(account_id, step), ttl):
            return False
        for earlier in range(step - len(DRIFTS) + 1, step):
            await store.set_flag(_used_step_key(account_id, earlier), ttl)
        return True

    @staticmethod
    async def _account(session: AsyncSession, account_id: int) -> Account:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound("account", account_id)
        return account
