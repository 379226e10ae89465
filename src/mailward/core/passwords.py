"""Device and account password primitives: generation, policy, storage (DESIGN §3).

Generated passwords carry over 100 bits of entropy, so a keyed hash (HMAC-SHA256 under
a server key kept outside the database) found by one index lookup is enough. Chosen
passwords may be weak and get Argon2id with OWASP's parameters, salted per address:
their lookup is the keyed hash of Argon2id(password, address salt), so one Argon2id
computation and one index lookup check every chosen device of an address at once, and
a wrong password costs the same whatever the address holds (DESIGN §3).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret_raw
from zxcvbn import zxcvbn

from mailward.errors import WeakPassword
from mailward.keys import ServerKeys

# No 0/O, 1/l/I: a password read aloud or typed from a phone screen stays unambiguous.
ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
GENERATED_LENGTH = 20
MIN_LENGTH = 16
MAX_LENGTH = 128
MIN_ZXCVBN_SCORE = 3
LOOKUP_PURPOSE = "device-password"
CHOSEN_LOOKUP_PURPOSE = "chosen-device-password"
ADDRESS_SALT_BYTES = 16
STRETCHED_BYTES = 32
SUGGESTION_PURPOSE = "password-suggestion"

# OWASP (2024): Argon2id m=19 MiB, t=2, p=1.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
YIELDING_NICE = 10


def generated_entropy_bits(length: int = GENERATED_LENGTH) -> float:
    return length * math.log2(len(ALPHABET))


def generate_password(length: int = GENERATED_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Suggestion:
    """A server-made password and the proof that the server made it. A client that
    submits the suggestion unchanged gets the fast keyed-hash storage."""

    password: str
    proof: str


def suggest_password(keys: ServerKeys) -> Suggestion:
    password = generate_password()
    return Suggestion(password, suggestion_proof(keys, password))


def suggestion_proof(keys: ServerKeys, password: str) -> str:
    return keys.mac(SUGGESTION_PURPOSE, password.encode()).hex()


def is_suggestion(keys: ServerKeys, password: str, proof: str | None) -> bool:
    if not proof:
        return False
    return secrets.compare_digest(suggestion_proof(keys, password), proof)


def check_chosen_password(password: str, context: list[str] | None = None) -> None:
    """Raise :class:`WeakPassword` with a reason a person can act on."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"must have at least {MIN_LENGTH} characters (has {len(password)})")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"must have at most {MAX_LENGTH} characters")
    check_strength(password, context)


def check_strength(password: str, context: list[str] | None = None) -> None:
    """Character set, variety and estimated strength (zxcvbn), whatever the length."""
    if any(not (" " <= c <= "~") for c in password):
        raise WeakPassword(
            "may contain only printable ASCII characters (letters, digits, punctuation, space),"
            " so that every mail client sends it the same way"
        )
    if len(set(password)) < 6:
        raise WeakPassword("repeats too few different characters")
    result = zxcvbn(password, user_inputs=context or [])
    if result["score"] < MIN_ZXCVBN_SCORE:
        warning = result["feedback"].get("warning") or "it is too easy to guess"
        raise WeakPassword(f"too weak: {warning.rstrip('.')}")


def lookup_hash(
    keys: ServerKeys, address_id: int, password: str, key_id: str | None = None
) -> bytes:
    """The keyed hash of a generated device password, bound to its address."""
    return keys.mac(LOOKUP_PURPOSE, address_id.to_bytes(8, "big"), password.encode(), key_id=key_id)


def new_address_salt() -> bytes:
    return secrets.token_bytes(ADDRESS_SALT_BYTES)


def chosen_lookup(
    keys: ServerKeys, address_id: int, stretched: bytes, key_id: str | None = None
) -> bytes:
    """The keyed hash of a chosen password stretched with its address's salt
    (:meth:`PasswordHasher.stretch`), bound to the address."""
    return keys.mac(CHOSEN_LOOKUP_PURPOSE, address_id.to_bytes(8, "big"), stretched, key_id=key_id)


def _yield_cpu() -> None:
    """Run this worker thread at a lower CPU priority (Linux: nice is per thread): a
    busy pool of mail-login checks must not delay the event loop, which answers the
    logins of generated passwords and the web manager."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), YIELDING_NICE)


class PasswordHasher:
    """Argon2id off the event loop, in a bounded pool. Counts every Argon2id
    computation (``verifications``: checks and stretches) so tests can prove which
    paths never reach it, and how often the others do."""

    def __init__(
        self, workers: int = 2, memory_kib: int = ARGON2_MEMORY_KIB, yielding: bool = False
    ) -> None:
        self._argon2 = _Argon2(
            time_cost=ARGON2_TIME_COST, memory_cost=memory_kib, parallelism=ARGON2_PARALLELISM
        )
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="argon2",
            initializer=_yield_cpu if yielding else None,
        )
        self._memory_kib = memory_kib
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        self.dummy_salt = new_address_salt()
        self.verifications = 0
        self.hashes = 0

    def hash_sync(self, password: str) -> str:
        self.hashes += 1
        return self._argon2.hash(password)

    def verify_sync(self, stored: str | None, password: str) -> bool:
        """Verify; ``stored=None`` spends the same time against a dummy hash."""
        self.verifications += 1
        try:
            ok = self._argon2.verify(stored or self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and stored is not None

    def stretch_sync(self, password: str, salt: bytes) -> bytes:
        """Argon2id's raw output for ``password`` under an address's salt."""
        self.verifications += 1
        return hash_secret_raw(
            password.encode(),
            salt,
            time_cost=ARGON2_TIME_COST,
            memory_cost=self._memory_kib,
            parallelism=ARGON2_PARALLELISM,
            hash_len=STRETCHED_BYTES,
            type=Type.ID,
        )

    async def stretch(self, password: str, salt: bytes | None) -> bytes:
        """``salt=None`` (an unknown address) spends the same time on a dummy salt."""
        loop = asyncio.get_running_loop()
        salt = salt or self.dummy_salt
        return await loop.run_in_executor(self._pool, self.stretch_sync, password, salt)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.hash_sync, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.verify_sync, stored, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
