"""The contract every mail-protocol edge uses to check a device password.

Edges (the embedded IMAP/POP3/SMTP servers, the internal HTTP endpoint for Dovecot,
Postfix and nginx) call :meth:`DeviceAuthenticator.authenticate` and map the result
once: IMAP ``NO [AUTHENTICATIONFAILED]`` / ``NO [UNAVAILABLE]``, SMTP ``535 5.7.8`` /
``454 4.7.0``, HTTP auth ``fail`` / ``tempfail``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class MailProtocol(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"


class FailureReason(StrEnum):
    WRONG_CREDENTIALS = "wrong_credentials"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class AuthenticatedDevice:
    """Who logged in: the device, its address, and the Maildir owner key."""

    device_id: int
    address_id: int
    address: str
    device_name: str


@dataclass(frozen=True)
class AuthFailure:
    reason: FailureReason
    retry_after: float | None = None


AuthResult = AuthenticatedDevice | AuthFailure


class DeviceAuthenticator(Protocol):
    async def authenticate(
        self,
        address: str,
        password: str,
        protocol: str,
        client_ip: str,
        client_name: str | None = None,
    ) -> AuthResult:
        """Check a device password. Never raises for bad input or a broken database:
        wrong or malformed credentials give ``WRONG_CREDENTIALS``; too many failures give
        ``RATE_LIMITED`` with ``retry_after`` seconds; a database or limiter outage that
        prevents a decision gives ``UNAVAILABLE`` (never "wrong password")."""
        ...

    def note_client_name(self, device_id: int, client_name: str) -> None:
        """Record the client's self-reported name (IMAP ID) as the device's last-used
        client, coalesced with the other last-used data (no database write per call)."""
        ...
