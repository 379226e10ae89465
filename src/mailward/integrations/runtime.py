"""What a Mailward node runs for the production data plane, beside the auth endpoint:
the socketmap tables for Postfix and the Dovecot kick hook.

How ``mailward serve`` (production mode) uses it::

    async with DataPlaneRuntime(services, options, dovecot_config=path):
        ...   # Postfix can look up addresses; revocations end Dovecot sessions

Changes made on other nodes reach the hook through the device change feed (the
:class:`~mailward.auth.runtime.AuthRuntime` runs it), within its poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import TracebackType

from mailward.bootstrap import Services
from mailward.integrations.kick import dovecot_kick_subscriber
from mailward.integrations.options import DataPlaneOptions
from mailward.integrations.socketmap import DatabaseMailDirectory, SocketmapServer

log = logging.getLogger(__name__)


class DataPlaneRuntime:
    def __init__(
        self,
        services: Services,
        options: DataPlaneOptions | None = None,
        dovecot_config: Path | None = None,
    ) -> None:
        self.services = services
        self.options = options or DataPlaneOptions()
        self.dovecot_config = dovecot_config
        self._socketmap: asyncio.Server | None = None

    async def start(self) -> None:
        if self.dovecot_config is not None:
            self.services.events.subscribe(dovecot_kick_subscriber(self.dovecot_config))
        server = SocketmapServer(DatabaseMailDirectory(self.services.db))
        self._socketmap = await server.start(
            self.options.socketmap_host, self.options.socketmap_port
        )
        log.info(
            "socketmap tables on %s:%s", self.options.socketmap_host, self.options.socketmap_port
        )

    async def stop(self) -> None:
        if self._socketmap is not None:
            self._socketmap.close()
            await self._socketmap.wait_closed()
            self._socketmap = None

    async def __aenter__(self) -> DataPlaneRuntime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
