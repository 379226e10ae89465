"""aiosmtpd's SMTP protocol with device-password AUTH checked asynchronously, and each
authenticated connection registered as a live session of its device.

aiosmtpd's ``authenticator`` callback is synchronous; here the built-in PLAIN and LOGIN
mechanisms still parse the exchange, ``_authenticate`` only parks the credentials, and
the wrapped mechanism awaits the real check.

Before AUTH on the submission ports, a client gets few commands and little time; every
connection is admitted by the connection caps. aiosmtpd itself bounds line lengths and
discards what was read before STARTTLS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from mailward.auth.interfaces import (
    AuthenticatedDevice,
    AuthFailure,
    DeviceAuthenticator,
    FailureReason,
    MailProtocol,
)
from mailward.clock import Clock
from mailward.mail.connections import ConnectionGate, FrontLimits, peer_ip
from mailward.mail.library_warnings import silence_aiosmtpd_warnings
from mailward.mail.sessions import LiveSession, SessionRegistry

log = logging.getLogger(__name__)
silence_aiosmtpd_warnings()  # two aiosmtpd warnings that are not true here

AUTH_FAILED = "535 5.7.8 Authentication credentials invalid"
AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure, try again later"
SESSION_ENDED = b"421 4.7.0 This device's access changed; connection closed\r\n"
TOO_MANY = b"421 4.7.0 Too many connections from your network, try again later\r\n"
TOO_MANY_COMMANDS = "421 4.7.0 Too many commands without logging in, closing"


def auth_failure_reply(failure: AuthFailure) -> str:
    """The one mapping of authentication failures to SMTP replies: only a wrong
    password is 535; a rate-limited or undecided attempt gets 454 (try later)."""
    if failure.reason is not FailureReason.WRONG_CREDENTIALS:
        return AUTH_UNAVAILABLE
    return AUTH_FAILED


@dataclass
class SmtpAuthContext:
    authenticator: DeviceAuthenticator
    registry: SessionRegistry
    clock: Clock


class DeviceSMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        auth: SmtpAuthContext | None,
        open_connections: set[DeviceSMTP],
        gate: ConnectionGate,
        limits: FrontLimits,
        **options: Any,
    ) -> None:
        super().__init__(handler, **options)
        self._auth = auth
        self._open = open_connections
        self._parked: LoginPassword | None = None
        self._live: LiveSession | None = None
        self._gate = gate
        self._limits = limits
        self._network: str | None = None
        self._refused = False
        self._commands_before_login = 0
        if auth is not None:
            self._smtp_methods = {
                name: self._counted(method) for name, method in self._smtp_methods.items()
            }

    # -- connection bookkeeping ----------------------------------------------

    def connection_made(self, transport: Any) -> None:
        if self._network is None:  # not again for the TLS transport after STARTTLS
            self._network = self._gate.enter(peer_ip(transport))
            if self._network is None:
                self._refused = True
                transport.write(TOO_MANY)
                transport.close()
                return
        self._open.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        if self._network:
            self._gate.leave(self._network)
            self._network = ""
        self._open.discard(self)
        if self._live is not None and self._auth is not None:
            self._auth.registry.unregister(self._live)
            self._live = None
        super().connection_lost(exc)

    def end_session(self) -> None:
        """Say why and close: the device was revoked or its password changed."""
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return
        transport.write(SESSION_ENDED)
        transport.close()

    def _logged_in(self) -> bool:
        return self.session is not None and bool(self.session.authenticated)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """Before AUTH on a submission port the client gets the login timeout."""
        if duration is None and self._auth is not None and not self._logged_in():
            duration = self._limits.login_timeout
        super()._reset_timeout(duration)

    def _counted(self, method: Callable[[str | None], Awaitable[None]]) -> Any:
        async def counted(arg: str | None) -> None:
            if not self._logged_in():
                self._commands_before_login += 1
                if self._commands_before_login > self._limits.commands_before_login:
                    await self.push(TOO_MANY_COMMANDS)
                    if self.transport is not None:
                        self.transport.close()
                    return
            await method(arg)

        return counted

    async def handle_exception(self, error: Exception) -> str:
        """Log it here; the client gets a plain reply, never the exception's text."""
        log.error("SMTP session error: %s", error.__class__.__name__, exc_info=error)
        return "451 4.3.0 Internal server error"

    # -- AUTH ----------------------------------------------------------------

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        self._parked = auth_data if isinstance(auth_data, LoginPassword) else None
        return AuthResult(success=False, handled=False)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._check(await super().auth_LOGIN(_, args))

    async def _check(self, parsed: AuthResult) -> AuthResult:
        credentials, self._parked = self._parked, None
        if credentials is None or self._auth is None:
            return parsed
        auth = self._auth
        checked_at = auth.clock.now()
        result = await auth.authenticator.authenticate(
            credentials.login.decode("utf-8", "replace"),
            credentials.password.decode("utf-8", "replace"),
            MailProtocol.SMTP,
            peer_ip(self.transport),
            self.session.host_name if self.session else None,  # EHLO: the client's name
        )
        if isinstance(result, AuthFailure):
            return AuthResult(success=False, handled=False, message=auth_failure_reply(result))
        self._live = auth.registry.register(
            result.device_id, MailProtocol.SMTP, self.end_session, checked_at
        )
        return AuthResult(success=True, auth_data=result)


def authenticated_device(session: Any) -> AuthenticatedDevice | None:
    device = getattr(session, "auth_data", None)
    return device if isinstance(device, AuthenticatedDevice) else None
