"""The second step of signing in to the web manager: a pending session (password done)
becomes a full one after a right TOTP or recovery code, or after enrolling TOTP. The
sequence is limit → verify → record → new session; the pending session ends, so
nothing issued before the second factor survives it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mailward.core.access.actors import Actor
from mailward.core.signin.limits import SignInService, TooManyAttempts
from mailward.core.signin.totp import SecondFactorService
from mailward.core.signin.websessions import IssuedSession, WebSessionService, WebSessionView
from mailward.errors import InvalidInput

WRONG_CODE = "This code is not valid. Type the current code of your authenticator app."


class Step(Enum):
    SIGNED_IN = "signed-in"
    WRONG_CODE = "wrong-code"
    TOO_MANY = "too-many"


@dataclass(frozen=True)
class SecondStepOutcome:
    """What a code did: ``issued`` (the new full session) when signed in, else the
    ``error`` to show; ``codes`` are the recovery codes an enrolment made, shown once."""

    step: Step
    issued: IssuedSession | None = None
    error: str = ""
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    ip: str
    user_agent: str


@dataclass(eq=False)
class SecondStepService:
    signin: SignInService
    second_factor: SecondFactorService
    sessions: WebSessionService

    async def verify(self, pending: WebSessionView, code: str, client: Client) -> SecondStepOutcome:
        """Too many wrong codes end the pending session (the password is asked again)."""
        try:
            await self.signin.check_second_factor_allowed(pending.account_id)
        except TooManyAttempts as exc:
            await self.sessions.end(pending.id)
            return SecondStepOutcome(Step.TOO_MANY, error=str(exc))
        if not await self.second_factor.verify(pending.account_id, code):
            await self.signin.second_factor_failed(pending.account_id)
            return SecondStepOutcome(Step.WRONG_CODE, error=WRONG_CODE)
        return SecondStepOutcome(Step.SIGNED_IN, await self.complete(pending, client))

    async def enrol(self, pending: WebSessionView, code: str, client: Client) -> SecondStepOutcome:
        actor = Actor(pending.account_id, pending.email, client.ip)
        try:
            codes = await self.second_factor.confirm_enrolment(actor, pending.account_id, code)
        except InvalidInput as exc:
            return SecondStepOutcome(Step.WRONG_CODE, error=f"The code {exc.reason}.")
        issued = await self.complete(pending, client)
        return SecondStepOutcome(Step.SIGNED_IN, issued, codes=tuple(codes))

    async def complete(self, pending: WebSessionView, client: Client) -> IssuedSession:
        await self.sessions.end(pending.id)
        issued = await self.sessions.start(pending.account_id, True, client.ip, client.user_agent)
        account = await self.signin.accounts.get(pending.account_id)
        await self.signin.signed_in(account, client.ip)
        return issued
