"""``mailward integrate agent``: a Mailward node for the production data plane without
the web manager: the internal auth endpoint, the socketmap tables, the device change feed
and the Dovecot kick hook. Run one beside each Dovecot/Postfix host (or use
``mailward serve`` in production mode, which can run the same pieces)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from mailward.auth.runtime import AuthRuntime
from mailward.bootstrap import build_services
from mailward.integrations.options import DataPlaneOptions
from mailward.integrations.runtime import DataPlaneRuntime
from mailward.settings import Settings


async def serve_agent(
    settings: Settings, options: DataPlaneOptions, dovecot_config: Path | None
) -> None:
    """Run until SIGTERM or SIGINT; prints one line with ``ready`` once serving."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    services = await build_services(settings)
    try:
        async with (
            AuthRuntime(services) as auth,
            DataPlaneRuntime(services, options, dovecot_config),
        ):
            http = await auth.serve_http()
            print(
                f"mailward agent ready: auth {http.url}, socketmap "
                f"{options.socketmap_host}:{options.socketmap_port}",
                flush=True,
            )
            await stop.wait()
    finally:
        await services.close()


def run_agent(settings: Settings, options: DataPlaneOptions, dovecot_config: Path | None) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_agent(settings, options, dovecot_config))
    return 0
