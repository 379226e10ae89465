"""Passkeys of manager accounts: register, list, remove, and check one.

The ``webauthn`` library (py_webauthn) makes the options and verifies the answers
(CBOR, attestation, signatures); Mailward keeps the public key, the sign count and
the names, and decides what a check means. A sign count that does not go up (when the
authenticator counts at all) means the credential was copied: it is refused and the
audit log says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mailward.core.access.actors import Actor
from mailward.core.audit.events import AuditTag, AuditTarget, record
from mailward.core.deps import CoreDeps
from mailward.core.passkeys.challenges import Ceremony, ChallengeStore
from mailward.db.models import Account, Passkey
from mailward.errors import InvalidInput, MailwardError, NotFound

USER_HANDLE_PURPOSE = "passkey-user-handle"
NAME_MAX = 120
MAX_PASSKEYS = 20


class PasskeyRefused(MailwardError):
    """A passkey answer that does not sign anyone in; ``reason`` is for the page."""

    code = "passkey-refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the host of ``public_url`` and its origin."""

    id: str
    origin: str
    name: str = "Mailward"

    @classmethod
    def from_public_url(cls, public_url: str) -> RelyingParty:
        parts = urlsplit(public_url)
        return cls(id=parts.hostname or "localhost", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class PasskeyView:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def _view(row: Passkey) -> PasskeyView:
    return PasskeyView(row.id, row.name, row.created_at, row.last_used_at)


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name", "is empty; name the passkey after its device")
    if len(name) > NAME_MAX:
        raise InvalidInput("name", f"is longer than {NAME_MAX} characters")
    return name


def _descriptors(rows: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=row.credential_id) for row in rows]


def _counted_back(stored: int, new: int) -> bool:
    """WebAuthn §6.1.1: a counter that is used must grow; 0 and 0 means not counted."""
    return (stored > 0 or new > 0) and new <= stored


class PasskeyService:
    def __init__(self, deps: CoreDeps, relying_party: RelyingParty) -> None:
        self.deps = deps
        self.rp = relying_party
        self.challenges = ChallengeStore(deps)

    def _user_handle(self, account_id: int) -> bytes:
        return self.deps.keys.mac(USER_HANDLE_PURPOSE, account_id.to_bytes(8, "big"))[:16]

    async def _rows(self, account_id: int) -> list[Passkey]:
        async with self.deps.db.unit_of_work() as uow:
            found = await uow.session.scalars(
                select(Passkey).where(Passkey.account_id == account_id).order_by(Passkey.id)
            )
            return list(found)

    async def list_for(self, account_id: int) -> list[PasskeyView]:
        return [_view(row) for row in await self._rows(account_id)]

    async def registration_options(self, account_id: int, browser_secret: str) -> str:
        """The JSON for ``navigator.credentials.create()``: a discoverable credential
        with user verification, so that it can sign in alone."""
        async with self.deps.db.unit_of_work() as uow:
            account = await uow.session.get(Account, account_id)
            if account is None:
                raise NotFound("account", account_id)
            email, display_name = account.email, account.display_name or account.email
        existing = await self._rows(account_id)
        challenge = await self.challenges.issue(browser_secret, Ceremony.REGISTER, account_id)
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=self._user_handle(account_id),
            user_name=email,
            user_display_name=display_name,
            challenge=challenge,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=r.credential_id) for r in existing
            ],
        )
        return options_to_json(options)

    async def register(
        self, actor: Actor, account_id: int, browser_secret: str, name: str, credential: str
    ) -> PasskeyView:
        """Keep the new credential the browser made for this session's challenge."""
        name = _clean_name(name)
        challenge = await self.challenges.take(browser_secret, Ceremony.REGISTER)
        if challenge is None or challenge.account_id != account_id:
            raise InvalidInput("passkey", "took too long or was already used; try again")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge.value,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("passkey", "could not be checked; try again") from exc
        now = self.deps.clock.now()
        async with self.deps.db.unit_of_work() as uow:
            held = await uow.session.scalar(
                select(func.count(Passkey.id)).where(Passkey.account_id == account_id)
            )
            if (held or 0) >= MAX_PASSKEYS:
                raise InvalidInput("passkey", f"is one too many: {MAX_PASSKEYS} at most")
            taken = await uow.session.scalar(
                select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
            )
            if taken is not None:
                raise InvalidInput("passkey", "is already registered")
            row = Passkey(
                account_id=account_id,
                name=name,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                created_at=now,
            )
            uow.session.add(row)
            await uow.session.flush()
            record(uow.session, actor, AuditTag.ACCOUNT_PASSKEY_ADD,
                   AuditTarget(label=actor.label), now, passkey=name)  # fmt: skip
            return _view(row)

    async def remove(self, actor: Actor, account_id: int, passkey_id: int) -> PasskeyView:
        """Remove one of the account's passkeys (another account's is "not found")."""
        async with self.deps.db.unit_of_work() as uow:
            row = await uow.session.get(Passkey, passkey_id)
            if row is None or row.account_id != account_id:
                raise NotFound("passkey", passkey_id)
            view = _view(row)
            await uow.session.delete(row)
            record(uow.session, actor, AuditTag.ACCOUNT_PASSKEY_REMOVE,
                   AuditTarget(label=actor.label), self.deps.clock.now(),
                   passkey=view.name)  # fmt: skip
            return view

    async def authentication_options(
        self, browser_secret: str, ceremony: Ceremony, account_id: int | None
    ) -> str:
        """The JSON for ``navigator.credentials.get()``. Without an account (sign-in
        with the passkey alone) the browser offers its discoverable credentials and the
        authenticator must verify the user; with one, only that account's passkeys."""
        allowed = [] if account_id is None else await self._rows(account_id)
        challenge = await self.challenges.issue(browser_secret, ceremony, account_id)
        options = generate_authentication_options(
            rp_id=self.rp.id,
            challenge=challenge,
            allow_credentials=_descriptors(allowed),
            user_verification=(
                UserVerificationRequirement.PREFERRED
                if ceremony is Ceremony.SECOND_FACTOR
                else UserVerificationRequirement.REQUIRED
            ),
        )
        return options_to_json(options)

    async def check(
        self, browser_secret: str, ceremony: Ceremony, credential: str, ip: str | None
    ) -> int:
        """The account a passkey answer signs in, or :class:`PasskeyRefused`. The
        challenge is used up whatever the outcome."""
        challenge = await self.challenges.take(browser_secret, ceremony)
        if challenge is None:
            raise PasskeyRefused("The passkey request expired. Try again.")
        try:
            credential_id = parse_authentication_credential_json(credential).raw_id
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRefused("The passkey's answer could not be read.") from exc
        async with self.deps.db.unit_of_work() as uow:
            found = (
                await uow.session.execute(
                    select(Passkey, Account)
                    .join(Account, Account.id == Passkey.account_id)
                    .where(Passkey.credential_id == credential_id)
                )
            ).first()
            if found is None or found[1].status != "active":
                raise PasskeyRefused("This passkey is not registered here.")
            row, account = found
            if challenge.account_id is not None and row.account_id != challenge.account_id:
                raise PasskeyRefused("This passkey belongs to another account.")
            new_count = self._verified_count(row, credential, challenge.value, ceremony)
            actor = Actor(account.id, account.email, ip)
            now = self.deps.clock.now()
            if _counted_back(row.sign_count, new_count):
                record(uow.session, actor, AuditTag.ACCOUNT_PASSKEY_CLONED,
                       AuditTarget(label=account.email), now, passkey=row.name,
                       stored_count=row.sign_count, presented_count=new_count)  # fmt: skip
                cloned = True
            else:
                row.sign_count, row.last_used_at, cloned = new_count, now, False
        if cloned:
            raise PasskeyRefused(
                "This passkey looks copied (its counter went backwards) and was refused."
            )
        return account.id

    def _verified_count(
        self, row: Passkey, credential: str, challenge: bytes, ceremony: Ceremony
    ) -> int:
        """The authenticator's new sign count, once the signature checks. The library
        is given a stored count of 0 so that it checks the signature first; the count
        rule is applied by :meth:`check`, which audits a clone."""
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                credential_public_key=row.public_key,
                credential_current_sign_count=0,
                require_user_verification=ceremony is not Ceremony.SECOND_FACTOR,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRefused("The passkey's answer did not check out.") from exc
        return verified.new_sign_count
