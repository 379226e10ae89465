"""Signing in to the manager, over fakes: the password step's limits, and the second
step as one use case (limit -> verify -> record -> new session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from mailward.core.signin.limits import SignInService, TooManyAttempts
from mailward.core.signin.second_step import Client, SecondStepService, Step
from mailward.core.signin.totp import SecondFactorService
from mailward.core.signin.websessions import IssuedSession, WebSessionService
from mailward.db.models import AuditEvent
from tests.unit.fakes import PASSWORD, Core

ADMIN = "admin@corp.test"
HOME = Client("198.51.100.7", "Firefox at home")
STRANGER = "203.0.113.66"


@dataclass
class SignIn:
    """The three services the manager's sign-in uses, and the administrator's TOTP
    secret (turned on before the test starts)."""

    core: Core
    signin: SignInService
    factor: SecondFactorService
    sessions: WebSessionService
    secret: str = ""
    recovery_codes: tuple[str, ...] = ()

    @property
    def second_step(self) -> SecondStepService:
        return SecondStepService(self.signin, self.factor, self.sessions)

    def fresh_code(self) -> str:
        """A code of the next time step (each step's code is accepted once)."""
        self.core.clock.advance(timedelta(seconds=30))
        return pyotp.TOTP(self.secret).at(self.core.clock.now())

    async def pending(self) -> IssuedSession:
        """A session after the right password, waiting for the second factor."""
        return await self.sessions.start(self.core.admin.account_id or 0, False, HOME.ip, "")

    async def actions(self) -> list[str]:
        async with self.core.deps.db.unit_of_work() as uow:
            query = select(AuditEvent.action).order_by(AuditEvent.id)
            return list(await uow.session.scalars(query))


@pytest.fixture
async def sign_in(core: Core) -> SignIn:
    signin = SignInService(core.deps, core.accounts)
    found = SignIn(core, signin, SecondFactorService(core.deps), WebSessionService(core.deps, 10))
    account_id = core.admin.account_id or 0
    found.secret = (await found.factor.begin_enrolment(account_id)).secret
    codes = await found.factor.confirm_enrolment(core.admin, account_id, found.fresh_code())
    found.recovery_codes = tuple(codes)
    return found


async def test_a_right_code_ends_the_pending_session_and_starts_a_full_one(
    sign_in: SignIn,
) -> None:
    pending = await sign_in.pending()
    outcome = await sign_in.second_step.verify(pending.session, sign_in.fresh_code(), HOME)
    assert outcome.step is Step.SIGNED_IN and outcome.issued is not None
    assert outcome.issued.session.second_factor_done
    assert outcome.issued.session.in_sudo(sign_in.core.clock.now())  # the password was just typed
    assert await sign_in.sessions.find(pending.token) is None
    assert await sign_in.sessions.find(outcome.issued.token) is not None
    assert (await sign_in.actions())[-1] == "account:login"


async def test_a_code_is_accepted_once(sign_in: SignIn) -> None:
    code = sign_in.fresh_code()
    first = await sign_in.second_step.verify((await sign_in.pending()).session, code, HOME)
    again = await sign_in.second_step.verify((await sign_in.pending()).session, code, HOME)
    assert (first.step, again.step) == (Step.SIGNED_IN, Step.WRONG_CODE)


async def test_five_wrong_codes_end_the_pending_session_before_a_right_one_is_read(
    sign_in: SignIn,
) -> None:
    pending = await sign_in.pending()
    for _ in range(5):
        wrong = await sign_in.second_step.verify(pending.session, "000000", HOME)
        assert wrong.step is Step.WRONG_CODE and "not valid" in wrong.error
    limited = await sign_in.second_step.verify(pending.session, sign_in.fresh_code(), HOME)
    assert limited.step is Step.TOO_MANY and limited.issued is None
    assert await sign_in.sessions.find(pending.token) is None  # the password is asked again
    assert "account:login" not in await sign_in.actions()


async def test_a_recovery_code_signs_in_once(sign_in: SignIn) -> None:
    recovery = sign_in.recovery_codes[0].upper()  # read without case
    for expected in (Step.SIGNED_IN, Step.WRONG_CODE):
        pending = await sign_in.pending()
        assert (await sign_in.second_step.verify(pending.session, recovery, HOME)).step is expected


async def test_enrolling_signs_in_and_gives_the_recovery_codes_once(sign_in: SignIn) -> None:
    user_id = sign_in.core.user.account_id or 0  # no second factor yet
    secret = (await sign_in.factor.begin_enrolment(user_id)).secret
    pending = await sign_in.sessions.start(user_id, False, HOME.ip, "")
    wrong = await sign_in.second_step.enrol(pending.session, "123456", HOME)
    assert wrong.step is Step.WRONG_CODE and wrong.error.startswith("The code does not match")
    code = pyotp.TOTP(secret).at(sign_in.core.clock.now())
    right = await sign_in.second_step.enrol(pending.session, code, HOME)
    assert right.step is Step.SIGNED_IN and len(right.codes) == 10
    assert right.issued is not None and await sign_in.sessions.find(pending.token) is None


async def test_a_wrong_password_is_refused_and_recorded(sign_in: SignIn) -> None:
    assert await sign_in.signin.check_password(ADMIN, "not the password", STRANGER) is None
    assert await sign_in.signin.check_password(ADMIN, PASSWORD, STRANGER) is not None
    assert (await sign_in.actions())[-1] == "account:login_failure"


async def test_strangers_failures_lock_the_email_but_not_its_owner_at_home(
    sign_in: SignIn,
) -> None:
    owner = await sign_in.signin.check_password(ADMIN, PASSWORD, HOME.ip)
    assert owner is not None
    await sign_in.signin.signed_in(owner, HOME.ip)  # both steps done: home is known
    for n in range(5):
        await sign_in.signin.check_password(ADMIN, f"guess {n}", f"203.0.113.{n}")
    with pytest.raises(TooManyAttempts):  # even the right password, from elsewhere
        await sign_in.signin.check_password(ADMIN, PASSWORD, STRANGER)
    assert await sign_in.signin.check_password(ADMIN, PASSWORD, HOME.ip) is not None


async def test_a_network_that_failed_too_often_is_refused_even_the_right_password(
    sign_in: SignIn,
) -> None:
    for n in range(20):  # 20 different emails: only the network's limit counts them all
        await sign_in.signin.check_password(f"nobody{n}@corp.test", "guess", STRANGER)
    with pytest.raises(TooManyAttempts):
        await sign_in.signin.check_password(ADMIN, PASSWORD, STRANGER)
