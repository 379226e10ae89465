"""What a Mailward node runs for the production data plane (``data_plane = "dovecot"``),
beside the auth endpoint: the socketmap tables for Postfix and the Dovecot kick hook.

How ``mailward serve`` uses it::

    async with DataPlaneRuntime(services):
        ...   # Postfix can look up addresses; device changes end Dovecot sessions

Changes made on other nodes reach the hook through the device change feed, which
``mailward serve`` runs (:func:`~mailward.auth.runtime.start_change_feed`).
"""

from __future__ import annotations

import asyncio
import logging

from mailward.bootstrap import Services
from mailward.integrations.socketmap import DatabaseMailDirectory, SocketmapServer
from mailward.lifecycle import StartStop

log = logging.getLogger(__name__)


class DataPlaneRuntime(StartStop):
    """Socketmap on ``settings.socketmap_bind:socketmap_port``; the kick hook when
    ``settings.dovecot_config`` names the local Dovecot's configuration."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._socketmap: asyncio.Server | None = None

    @property
    def socketmap_port(self) -> int:
        """The bound port (useful when the setting is 0)."""
        assert self._socketmap is not None, "not started"
        return int(self._socketmap.sockets[0].getsockname()[1])

    async def start(self) -> None:
        settings = self.services.settings
        if not self.services.kick_dovecot_sessions():
            log.warning(
                "no dovecot_config: device changes will not end live Dovecot sessions "
                "(set MAILWARD_DOVECOT_CONFIG on the nodes beside Dovecot)"
            )
        server = SocketmapServer(
            DatabaseMailDirectory(self.services.db), settings.internal_max_connections
        )
        self._socketmap = await server.start(settings.socketmap_bind, settings.socketmap_port)
        log.info("socketmap tables on %s:%s", settings.socketmap_bind, self.socketmap_port)

    async def stop(self) -> None:
        if self._socketmap is not None:
            self._socketmap.close()
            await self._socketmap.wait_closed()
            self._socketmap = None
