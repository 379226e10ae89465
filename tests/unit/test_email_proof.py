"""Proof of a mailbox: one-time codes that set an account's password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailward.core.accounts.emailproof import (
    CHECK_IP_LIMIT,
    SEND_LIMIT,
    EmailProofService,
    ProofRequest,
    new_code,
)
from mailward.core.signin.limits import TooManyAttempts
from mailward.db.models import EmailProof
from mailward.errors import InvalidInput
from tests.mailbox import CapturingMailer, code_in
from tests.unit.fakes import Core

DAVE = "dave@partner.example"
NEW_PASSWORD = "Orchard-Violet-Compass-71"
DAVE_ASKS = ProofRequest(DAVE, "203.0.113.4")


@pytest.fixture
async def proofs(core: Core) -> EmailProofService:
    await core.addresses.add_user(core.admin, core.address, DAVE)  # an invited account
    return EmailProofService(core.deps, CapturingMailer(), "mailward@example.test", "https://m/")


async def code_for(proofs: EmailProofService, request: ProofRequest = DAVE_ASKS) -> str:
    message = await proofs.new_code(request)
    assert message is not None and message["To"] == request.email
    return code_in(message)


async def test_the_right_code_sets_the_password_once(proofs: EmailProofService) -> None:
    code = await code_for(proofs)
    account = await proofs.set_password(DAVE_ASKS, code, NEW_PASSWORD)
    assert account.status == "active"
    with pytest.raises(InvalidInput, match="wrong or has expired"):
        await proofs.set_password(DAVE_ASKS, code, NEW_PASSWORD)


async def test_the_code_is_read_without_dashes_spaces_or_case(proofs: EmailProofService) -> None:
    code = await code_for(proofs)
    typed = f" {code[:4].lower()}-{code[4:8]} {code[8:]} "
    assert (await proofs.set_password(DAVE_ASKS, typed, NEW_PASSWORD)).email == DAVE


async def test_a_code_expires_after_30_minutes(core: Core, proofs: EmailProofService) -> None:
    code = await code_for(proofs)
    core.clock.advance(timedelta(minutes=30))
    with pytest.raises(InvalidInput):
        await proofs.set_password(DAVE_ASKS, code, NEW_PASSWORD)


async def test_a_new_code_ends_the_previous_one(proofs: EmailProofService) -> None:
    first = await code_for(proofs)
    second = await code_for(proofs)
    with pytest.raises(InvalidInput):
        await proofs.set_password(DAVE_ASKS, first, NEW_PASSWORD)
    await proofs.set_password(DAVE_ASKS, second, NEW_PASSWORD)


async def test_an_unknown_email_gets_no_code_and_no_different_answer(
    proofs: EmailProofService,
) -> None:
    stranger = ProofRequest("nobody@partner.example", "203.0.113.4")
    assert await proofs.new_code(stranger) is None
    with pytest.raises(InvalidInput, match="wrong or has expired"):
        await proofs.set_password(stranger, new_code(), NEW_PASSWORD)


async def test_only_a_keyed_hash_of_the_code_is_stored(
    core: Core, proofs: EmailProofService
) -> None:
    code = await code_for(proofs)
    async with core.deps.db.unit_of_work() as uow:
        hashes = list(await uow.session.scalars(select(EmailProof.code_hash)))
    assert len(hashes) == 1 and code.encode() not in hashes[0]


async def test_wrong_guesses_block_the_guessers_network_never_the_owner(
    proofs: EmailProofService,
) -> None:
    code = await code_for(proofs)
    guesser = ProofRequest(DAVE, "198.51.100.66")
    for _ in range(CHECK_IP_LIMIT.failures):
        with pytest.raises(InvalidInput):
            await proofs.set_password(guesser, new_code(), NEW_PASSWORD)
    with pytest.raises(TooManyAttempts):
        await proofs.set_password(guesser, code, NEW_PASSWORD)
    assert (await proofs.set_password(DAVE_ASKS, code, NEW_PASSWORD)).status == "active"


async def test_asking_often_for_one_email_keeps_the_newest_code_working(
    proofs: EmailProofService,
) -> None:
    codes = [await code_for(proofs, ProofRequest(DAVE, f"198.51.100.{n}"))
             for n in range(SEND_LIMIT.failures)]  # fmt: skip
    assert await proofs.new_code(ProofRequest(DAVE, "192.0.2.99")) is None
    await proofs.set_password(DAVE_ASKS, codes[-1], NEW_PASSWORD)


async def test_a_weak_password_is_refused_and_the_code_stays_usable(
    proofs: EmailProofService,
) -> None:
    code = await code_for(proofs)
    with pytest.raises(InvalidInput):
        await proofs.set_password(DAVE_ASKS, code, "short")
    await proofs.set_password(DAVE_ASKS, code, NEW_PASSWORD)


async def test_the_account_then_signs_in_with_its_new_password(
    core: Core, proofs: EmailProofService
) -> None:
    await proofs.set_password(DAVE_ASKS, await code_for(proofs), NEW_PASSWORD)
    assert await core.accounts.verify_password(DAVE, NEW_PASSWORD) is not None
    assert await core.accounts.verify_password(DAVE, NEW_PASSWORD + "x") is None
