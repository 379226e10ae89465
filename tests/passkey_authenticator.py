"""A software authenticator for the core passkey tests: it answers the JSON options
the way a browser's ``navigator.credentials`` would (``none`` attestation, an ES256
key, a sign count). The browser tests use Chromium's virtual authenticator instead."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mailward.bootstrap import Services
from mailward.core.access.actors import Actor

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SoftAuthenticator:
    rp_id: str
    origin: str
    sign_count: int = 0
    user_verified: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def _client_data(self, kind: str, options_json: str) -> bytes:
        challenge = json.loads(options_json)["challenge"]
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        flags |= UP | (UV if self.user_verified else 0)
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + self.sign_count.to_bytes(4, "big") + attested

    def create(self, options_json: str) -> str:
        """The answer to ``navigator.credentials.create(options)``."""
        cid = self.credential_id
        attested = bytes(16) + len(cid).to_bytes(2, "big") + cid + self._cose_key()
        attestation = {"fmt": "none", "attStmt": {}, "authData": self._auth_data(AT, attested)}
        response = {
            "clientDataJSON": b64url(self._client_data("webauthn.create", options_json)),
            "attestationObject": b64url(cbor2.dumps(attestation)),
        }
        return self._credential(response)

    def get(self, options_json: str, sign_count: int | None = None) -> str:
        """The answer to ``navigator.credentials.get(options)``; the counter goes up
        by one, or is set to ``sign_count`` (a clone replaying an older state)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = self._client_data("webauthn.get", options_json)
        auth_data = self._auth_data(0)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        response = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        return self._credential(response)

    def _credential(self, response: dict[str, str]) -> str:
        cid = b64url(self.credential_id)
        return json.dumps({"id": cid, "rawId": cid, "response": response, "type": "public-key"})


async def register_passkey(
    services: Services, actor: Actor, name: str, browser: str = "test-browser-cookie-0123456789"
) -> tuple[SoftAuthenticator, int]:
    """A passkey of ``actor``'s account, registered through the core; with its id."""
    assert actor.account_id is not None
    key = SoftAuthenticator(services.passkeys.rp.id, services.passkeys.rp.origin)
    options = await services.passkeys.registration_options(actor.account_id, browser)
    view = await services.passkeys.register(
        actor, actor.account_id, browser, name, key.create(options)
    )
    return key, view.id
