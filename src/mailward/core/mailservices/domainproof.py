"""Proof that an organization controls a domain: a DNS TXT record with its claim's token.

The record is ``_mailward.DOMAIN  TXT  "mailward-verification=TOKEN"``; the token is
random and differs for every claim, so one organization's record never proves another's
claim. Looking the record up is an edge (DNS); this module only says what to publish and
what an answer means.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

RECORD_PREFIX = "_mailward"
VALUE_PREFIX = "mailward-verification="
MAX_BACKOFF = timedelta(days=1)


class DnsProblem(StrEnum):
    NXDOMAIN = "nxdomain"
    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    NO_RESOLVER = "no-resolver"
    ERROR = "error"


@dataclass(frozen=True)
class TxtAnswer:
    """The TXT strings at a name (each record's strings joined), or why there are none."""

    texts: tuple[str, ...] = ()
    problem: DnsProblem | None = None


class TxtLookup(Protocol):
    async def txt(self, name: str) -> TxtAnswer:
        """The TXT records at ``name``. Never raises: failures come back as ``problem``,
        within the lookup's own time limit."""
        ...


@dataclass(frozen=True)
class VerificationRecord:
    name: str
    type: str
    value: str

    @property
    def zone_line(self) -> str:
        return f'{self.name}. 3600 IN TXT "{self.value}"'


@dataclass(frozen=True)
class CheckOutcome:
    verified: bool
    message: str


def new_token() -> str:
    return secrets.token_hex(16)


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def verification_record(domain: str, token: str) -> VerificationRecord:
    return VerificationRecord(record_name(domain), "TXT", VALUE_PREFIX + token)


_PROBLEMS = {
    DnsProblem.NXDOMAIN: "the name {name} does not exist in DNS (NXDOMAIN)",
    DnsProblem.TIMEOUT: "the DNS servers did not answer in time",
    DnsProblem.SERVFAIL: "the DNS servers failed to answer (SERVFAIL)",
    DnsProblem.NO_RESOLVER: "no DNS resolver is configured on the server",
    DnsProblem.ERROR: "the DNS answer could not be read",
}


def judge(answer: TxtAnswer, domain: str, token: str) -> CheckOutcome:
    """What a TXT answer proves about the claim whose token is ``token``."""
    name = record_name(domain)
    if answer.problem is not None:
        reason = _PROBLEMS[answer.problem].format(name=name)
        return CheckOutcome(False, f"Not verified yet: {reason}.")
    wanted = VALUE_PREFIX + token
    texts = [t.strip() for t in answer.texts]
    if wanted in texts:
        return CheckOutcome(True, f"Verified: {name} holds this organization's record.")
    if any(t.startswith(VALUE_PREFIX) for t in texts):
        return CheckOutcome(
            False, f"Not verified yet: the record at {name} holds a different token."
        )
    return CheckOutcome(False, f"Not verified yet: no mailward-verification record at {name}.")


def next_check(now: datetime, interval_seconds: float, failures: int) -> datetime:
    """When a pending domain is looked at again: the interval, doubled per failure, at
    most a day apart."""
    delay = timedelta(seconds=interval_seconds * 2.0 ** min(failures, 16))
    return now + min(delay, MAX_BACKOFF)
