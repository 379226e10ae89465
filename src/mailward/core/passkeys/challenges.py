"""WebAuthn challenges: random, bound to one browser session, used once, short-lived.

A challenge is kept in the database (every node sees it) under the keyed hash of the
browser's session or anonymous cookie and the ceremony it is for; taking it deletes it,
so an answer cannot be replayed, and another browser cannot answer it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select

from mailward.core.deps import CoreDeps
from mailward.db.models import PasskeyChallenge

CHALLENGE_LIFETIME = timedelta(minutes=5)
BINDING_PURPOSE = "passkey-challenge"


class Ceremony(StrEnum):
    REGISTER = "register"
    SECOND_FACTOR = "second-factor"
    SIGN_IN = "sign-in"
    SUDO = "sudo"


@dataclass(frozen=True)
class Challenge:
    value: bytes
    account_id: int | None


class ChallengeStore:
    def __init__(self, deps: CoreDeps) -> None:
        self.deps = deps

    def binding(self, browser_secret: str) -> bytes:
        """The keyed hash of the cookie that ties a challenge to one browser."""
        return self.deps.keys.mac(BINDING_PURPOSE, browser_secret.encode())

    async def issue(self, browser_secret: str, ceremony: Ceremony, account_id: int | None) -> bytes:
        """A new challenge; the browser's earlier one for this ceremony is dropped."""
        value = secrets.token_bytes(32)
        now = self.deps.clock.now()
        binding = self.binding(browser_secret)
        async with self.deps.db.unit_of_work() as uow:
            await uow.session.execute(
                delete(PasskeyChallenge).where(
                    (PasskeyChallenge.expires_at <= now)
                    | (
                        (PasskeyChallenge.binding == binding)
                        & (PasskeyChallenge.purpose == str(ceremony))
                    )
                )
            )
            uow.session.add(
                PasskeyChallenge(
                    binding=binding,
                    purpose=str(ceremony),
                    challenge=value,
                    account_id=account_id,
                    expires_at=now + CHALLENGE_LIFETIME,
                )
            )
        return value

    async def take(self, browser_secret: str, ceremony: Ceremony) -> Challenge | None:
        """The browser's live challenge for ``ceremony``, deleted by this call."""
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            row = await uow.session.scalar(
                select(PasskeyChallenge).where(
                    PasskeyChallenge.binding == self.binding(browser_secret),
                    PasskeyChallenge.purpose == str(ceremony),
                )
            )
            if row is None:
                return None
            taken = await uow.session.execute(
                delete(PasskeyChallenge).where(PasskeyChallenge.id == row.id)
            )
            if getattr(taken, "rowcount", 0) != 1 or row.expires_at <= now:
                return None  # another request took it first, or it expired
            return Challenge(row.challenge, row.account_id)
