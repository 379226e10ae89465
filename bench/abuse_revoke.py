"""Revoke -> BYE with a smarthost that never answers (issue 13, finding 5).

The real embedded servers in this process (SQLite, IMAP over implicit TLS, the outbound
spool and its worker, security notices wired as in ``mailward serve``): devices idle in
IMAP IDLE and are revoked one after another through the core use case (what the web
manager and the API call); each revoke's time until the client reads ``* BYE`` is
measured. The same run measures it without a smarthost (no notice leaves), the baseline.

    python bench/abuse_revoke.py [--quick]      # or through bench/abuse.py

Before the fix the security notice waited on the smarthost inside the revoke: 25.6 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.mail_world import RawImap  # noqa: E402
from tests.support import World, free_port, make_world  # noqa: E402

from mailward.auth.runtime import AuthRuntime  # noqa: E402
from mailward.bootstrap import build_services  # noqa: E402
from mailward.mail.outbox import send_security_notices  # noqa: E402
from mailward.mail.server import MailServer  # noqa: E402
from mailward.settings import Settings  # noqa: E402

PORTS = ("imap", "imaps", "submission", "submissions", "smtp", "pop3", "pop3s")
BYE_PATIENCE = 30.0  # seconds; the old behaviour took 25.6 s


async def blackhole(port: int) -> asyncio.Server:
    """Accepts connections, reads, never writes."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass

    return await asyncio.start_server(swallow, "127.0.0.1", port)


@contextlib.asynccontextmanager
async def running(
    data_dir: Path, smarthost_port: int | None
) -> AsyncIterator[tuple[World, MailServer]]:
    options: dict[str, object] = {f"{name}_port": 0 for name in PORTS}
    if smarthost_port is not None:
        options.update(smarthost="127.0.0.1", smarthost_port=smarthost_port)
        options.update(smarthost_starttls=False)
    settings = Settings(data_dir=data_dir, **options)  # type: ignore[arg-type]
    services = await build_services(settings)
    try:
        world = await make_world(services)
        async with AuthRuntime(services) as auth:
            server = MailServer(settings, services, auth.authenticator)
            await server.start()
            send_security_notices(services)
            try:
                yield world, server
            finally:
                await server.stop(grace=1.0)
    finally:
        await services.close()


async def revoke_to_bye(world: World, server: MailServer, index: int) -> float:
    """Milliseconds from the revoke call until its idling session reads ``* BYE``."""
    name = f"device {index}"
    created = await world.services.devices.add(world.admin, world.address, name)
    assert server.ports is not None
    client = await RawImap.connect(server.ports.imaps)
    try:
        assert b"OK" in await client.login(world.address, created.password)
        await client.idle()
        started = time.perf_counter()
        bye = asyncio.create_task(client.wait_for(b"BYE", BYE_PATIENCE))
        await world.services.devices.revoke(world.admin, world.address, name)
        await bye
        return (time.perf_counter() - started) * 1000
    finally:
        await client.close()


async def median_ms(revokes: int, smarthost_port: int | None) -> float:
    with tempfile.TemporaryDirectory(prefix="mailward-bench-") as tmp:
        async with running(Path(tmp), smarthost_port) as (world, server):
            await revoke_to_bye(world, server, -1)  # warm-up
            times = [await revoke_to_bye(world, server, i) for i in range(revokes)]
    return statistics.median(times)


async def measure(quick: bool) -> dict[str, float]:
    revokes = 10 if quick else 40
    port = free_port()
    hole = await blackhole(port)
    try:
        blackholed = await median_ms(revokes, port)
    finally:
        hole.close()
        await hole.wait_closed()
    baseline = await median_ms(revokes, None)
    return {
        "revoke_to_bye_ms_blackhole_smarthost": blackholed,
        "revoke_to_bye_ms_no_smarthost": baseline,
        "revoke_to_bye_blackhole_ratio": blackholed / baseline if baseline else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 revokes instead of 40")
    results = asyncio.run(measure(parser.parse_args().quick))
    for key, value in results.items():
        print(f"{key:<40} {value:>10.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
