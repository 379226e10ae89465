"""The caller's own passkeys (of the web manager): listed, and removed one at a time.
Adding one needs a browser (WebAuthn), so it is done in the manager."""

from __future__ import annotations

from fastapi import APIRouter

from mailward.core.passkeys.service import PasskeyView
from mailward.web.api.context import Api
from mailward.web.api.operations import NO_CONTENT, ObjectId
from mailward.web.api.problems import problem_responses
from mailward.web.api.schemas import View, fields_of

router = APIRouter(tags=["Passkeys"])


class Passkey(View):
    """A passkey of the manager account: its name, when it was added and last used."""

    __annotations__ = fields_of(PasskeyView)


def _account_id(api: Api) -> int:
    assert api.actor.account_id is not None  # an API token always belongs to an account
    return api.actor.account_id


@router.get("/passkeys", responses=problem_responses())
async def list_passkeys(api: Api) -> list[Passkey]:
    """Your passkeys, oldest first (a public key never leaves the server)."""
    views = await api.services.passkeys.list_for(_account_id(api))
    return [Passkey.model_validate(v) for v in views]


@router.delete("/passkeys/{passkey_id}", **NO_CONTENT, responses=problem_responses(404))
async def remove_passkey(passkey_id: ObjectId, api: Api) -> None:
    """Remove one of your passkeys: it no longer signs you in (recorded in the audit log)."""
    await api.services.passkeys.remove(api.actor, _account_id(api), passkey_id)
