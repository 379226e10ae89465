"""The live-session registry: which device opened each authenticated IMAP/SMTP session.

A device change that ends sessions (new password, revocation, options) closes exactly
the sessions that device opened before the change; other devices are untouched.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from mailward.clock import Clock
from mailward.core.deps import DeviceChangeNotice

log = logging.getLogger(__name__)

Closer = Callable[[], None]


@dataclass(eq=False)
class LiveSession:
    """One authenticated connection. ``close`` must end it promptly and not raise."""

    device_id: int
    protocol: str
    authenticated_at: datetime
    close: Closer = field(repr=False)
    ident: int = 0


class SessionRegistry:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._by_device: dict[int, dict[int, LiveSession]] = {}
        self._ids = itertools.count(1)

    def register(
        self, device_id: int, protocol: str, close: Closer, checked_at: datetime | None = None
    ) -> LiveSession:
        """``checked_at`` is when the password check began: a change committed after it
        but before this call still ends the session."""
        at = checked_at or self.clock.now()
        session = LiveSession(device_id, protocol, at, close, next(self._ids))
        self._by_device.setdefault(device_id, {})[session.ident] = session
        return session

    def unregister(self, session: LiveSession) -> None:
        sessions = self._by_device.get(session.device_id)
        if sessions is None:
            return
        sessions.pop(session.ident, None)
        if not sessions:
            del self._by_device[session.device_id]

    def sessions_of(self, device_id: int) -> list[LiveSession]:
        return list(self._by_device.get(device_id, {}).values())

    def count(self) -> int:
        return sum(len(s) for s in self._by_device.values())

    def count_by_protocol(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sessions in self._by_device.values():
            for session in sessions.values():
                counts[session.protocol] = counts.get(session.protocol, 0) + 1
        return counts

    def end_device(self, device_id: int, before: datetime | None) -> int:
        """Close the device's sessions that authenticated before ``before`` (all of
        them when ``None``); returns how many were closed."""
        ended = 0
        for session in self.sessions_of(device_id):
            if before is not None and session.authenticated_at > before:
                continue
            self.unregister(session)
            self._close(session)
            ended += 1
        return ended

    def end_all(self) -> None:
        for sessions in list(self._by_device.values()):
            for session in list(sessions.values()):
                self.unregister(session)
                self._close(session)

    async def device_changed(self, notice: DeviceChangeNotice) -> None:
        """Subscriber for the device event hub."""
        if not notice.ends_sessions:
            return
        ended = self.end_device(notice.device_id, notice.at)
        if ended:
            log.info(
                "device %s %s: ended %d session(s)",
                notice.device_id,
                notice.kind,
                ended,
                extra={"device_id": notice.device_id},
            )

    @staticmethod
    def _close(session: LiveSession) -> None:
        try:
            session.close()
        except Exception:
            log.exception("closing a %s session failed", session.protocol)
