"""A password set by proof of the mailbox ends whatever the old password opened: every
web session and personal API token of the account (SQLite and PostgreSQL)."""

from __future__ import annotations

from mailward.clock import FrozenClock
from mailward.core.accounts.apitokens import ApiTokenService
from mailward.core.accounts.emailproof import EmailProofService, ProofRequest
from tests.mailbox import CapturingMailer, code_in
from tests.support import World
from tests.web_support import csrf_of, enrol_totp, sign_in, web_client

NEW_PASSWORD = "violet-harbour-compass-71"


async def test_a_reset_by_email_proof_ends_the_other_sessions_and_tokens(
    world: World, clock: FrozenClock
) -> None:
    services, admin = world.services, world.admin
    assert admin.account_id is not None
    secret = await enrol_totp(services, admin.account_id)
    intruder = await sign_in(web_client(services), admin.label, secret, clock)
    tokens = ApiTokenService(services.deps)
    issued = await tokens.create(admin, world.org_id, "intruder's script")
    proofs = EmailProofService(services.deps, CapturingMailer(), "mailward@test", "http://t")
    message = await proofs.new_code(ProofRequest(admin.label, "203.0.113.9"))
    assert message is not None
    async with web_client(services, client_ip="203.0.113.9") as owner:
        page = await owner.get("/email-code")
        done = await owner.post(
            "/email-code/password",
            data={"csrf": csrf_of(page.text), "email": admin.label, "code": code_in(message),
                  "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )  # fmt: skip
        assert done.status_code == 303
    assert (await intruder.get("/dashboard")).status_code == 303  # signed out
    statuses = {t.id: t.status for t in await tokens.list(admin, world.org_id)}
    assert statuses[issued.token.id] == "revoked"
    await intruder.client.aclose()
