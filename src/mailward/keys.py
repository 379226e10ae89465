"""The server key ring: secrets that live outside the database.

A key file holds one or more keys, each with an id; the newest is used for new values,
older ones still verify until they are retired. Each use derives its own sub-key, so a
keyed hash of a device password can never be confused with a session token's hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailward.files import replace_durably

KEY_BYTES = 32


class KeyFileError(Exception):
    """The key file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class ServerKeys:
    current_id: str
    keys: dict[str, bytes] = field(repr=False)

    @classmethod
    def generate(cls) -> ServerKeys:
        key_id = f"k{secrets.token_hex(3)}"
        return cls(current_id=key_id, keys={key_id: secrets.token_bytes(KEY_BYTES)})

    def rotated(self) -> ServerKeys:
        """A ring with a new current key; the old ones stay for verification."""
        fresh = ServerKeys.generate()
        return ServerKeys(fresh.current_id, {**self.keys, **fresh.keys})

    def subkey(self, purpose: str, key_id: str | None = None) -> bytes:
        key = self.keys[key_id or self.current_id]
        return hmac.new(key, b"mailward/" + purpose.encode(), hashlib.sha256).digest()

    def mac(self, purpose: str, *parts: bytes, key_id: str | None = None) -> bytes:
        """HMAC-SHA256 of length-prefixed parts under the purpose's sub-key."""
        message = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
        return hmac.new(self.subkey(purpose, key_id), message, hashlib.sha256).digest()

    def seal(self, purpose: str, plaintext: bytes) -> str:
        """Encrypt a small secret (a TOTP seed) for storage: ``key_id:nonce+ciphertext``."""
        nonce = secrets.token_bytes(12)
        box = AESGCM(self.subkey("seal/" + purpose)).encrypt(nonce, plaintext, purpose.encode())
        return f"{self.current_id}:{base64.urlsafe_b64encode(nonce + box).decode()}"

    def unseal(self, purpose: str, sealed: str) -> bytes:
        key_id, _, blob = sealed.partition(":")
        raw = base64.urlsafe_b64decode(blob)
        aes = AESGCM(self.subkey("seal/" + purpose, key_id))
        return aes.decrypt(raw[:12], raw[12:], purpose.encode())

    def to_json(self) -> str:
        encoded = {k: base64.b64encode(v).decode() for k, v in self.keys.items()}
        return json.dumps({"current": self.current_id, "keys": encoded}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ServerKeys:
        try:
            data = json.loads(text)
            keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
            current = str(data["current"])
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"malformed key file: {exc}") from exc
        if current not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
            raise KeyFileError("malformed key file: current key missing or wrong length")
        return cls(current_id=current, keys=keys)


def write_key_file(path: Path, keys: ServerKeys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_durably(path, keys.to_json().encode())


def load_key_file(path: Path, create: bool) -> ServerKeys:
    """Read the key ring; with ``create``, make one (mode 0600) when none exists."""
    if not path.exists():
        if not create:
            raise KeyFileError(f"server key file {path} does not exist")
        write_key_file(path, ServerKeys.generate())
    if path.stat().st_mode & 0o077:
        raise KeyFileError(f"server key file {path} must not be readable by others (chmod 600)")
    return ServerKeys.from_json(path.read_text())
