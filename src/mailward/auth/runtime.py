"""Assembling the authenticator from :class:`~mailward.bootstrap.Services` (which wires
it: :meth:`~mailward.bootstrap.Services.build_authenticator`), and running its
background work (change feed, last-used flusher, optional HTTP endpoint).

``mailward serve`` starts each of these parts on its own exit stack
(:func:`mailward.serve.start_node`); :class:`AuthRuntime` starts and stops them together
for a process that needs only the authenticator::

    services = await build_services(settings)
    async with AuthRuntime(services) as auth:            # feed + flusher running
        http = await auth.serve_http()
        ... hand auth.authenticator to the IMAP/SMTP servers ...
    # on exit: HTTP endpoint stopped, last-used flushed
    await services.close()                               # Redis closed
"""

from __future__ import annotations

import asyncio
import contextlib

from mailward.auth.authenticator import Authenticator
from mailward.auth.budget import HashingBounds, HashingBudget
from mailward.auth.cache import CredentialCache
from mailward.auth.chosen import ChosenPasswordCheck
from mailward.auth.directory import DeviceDirectory
from mailward.auth.lastused import LastUsedRecorder
from mailward.auth.limits import AuthLimits, RateLimiter
from mailward.auth.refusals import RefusalLog
from mailward.auth.server import AuthHttpServer, serve_auth_http
from mailward.bootstrap import Services
from mailward.lifecycle import StartStop
from mailward.limitstore import RateLimitStore


def assemble_authenticator(
    services: Services,
    limits: AuthLimits | None = None,
    store: RateLimitStore | None = None,
) -> Authenticator:
    """An authenticator on the services' database, keys, hasher and clock. Its cache
    follows device changes once bootstrap subscribes it: use
    :meth:`~mailward.bootstrap.Services.build_authenticator`, which does."""
    settings = services.settings
    cache = CredentialCache(services.keys, settings.credential_cache_seconds)
    directory = DeviceDirectory(services.db)
    hasher = services.deps.mail_login_hasher
    limits = limits or AuthLimits(ipv6_prefix_length=settings.ipv6_prefix_length)
    bounds = HashingBounds(
        settings.argon2_queue, settings.argon2_per_network, settings.argon2_per_address
    )
    return Authenticator(
        keys=services.keys,
        directory=directory,
        hasher=hasher,
        limiter=RateLimiter(store or services.deps.limit_store, limits),
        cache=cache,
        last_used=LastUsedRecorder(services.db, settings.last_used_flush_seconds),
        refusals=RefusalLog(services.db, services.clock),
        clock=services.clock,
        chosen=ChosenPasswordCheck(services.keys, directory, hasher, services.db),
        budget=HashingBudget(bounds),
    )


async def start_change_feed(services: Services) -> asyncio.Task[None]:
    """Start reading ``device_changes`` (changes made by other processes) as a task: at
    once when the database signals a commit (PostgreSQL), and every
    ``settings.device_change_poll_seconds`` in any case. Its position is taken before
    this returns: any change committed afterwards is delivered. Cancel the task to stop."""
    feed = services.change_feed()
    with contextlib.suppress(Exception):  # a database outage: run() retries
        await feed.start_position()
    return asyncio.create_task(feed.run(), name="device-change-feed")


async def close_authenticator(authenticator: Authenticator) -> None:
    """Flush last-used data and close the database reader. The rate-limit store is the
    services' (shared with the web manager), closed by :meth:`Services.close`."""
    await authenticator.last_used.flush()
    await authenticator.directory.close()


class AuthRuntime(StartStop):
    """The authenticator and its background tasks, started and stopped together."""

    def __init__(self, services: Services, authenticator: Authenticator | None = None) -> None:
        self.services = services
        self.authenticator = authenticator or services.build_authenticator()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: AuthHttpServer | None = None

    async def start(self) -> None:
        self._tasks.append(await start_change_feed(self.services))
        self._tasks.append(
            asyncio.create_task(self.authenticator.last_used.run(), name="device-last-used")
        )

    async def serve_http(self, host: str | None = None, port: int | None = None) -> AuthHttpServer:
        self._http = await serve_auth_http(self.authenticator, self.services.settings, host, port)
        return self._http

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await close_authenticator(self.authenticator)
