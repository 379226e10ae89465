"""A slow neighbour never delays a revocation: with Redis and the smarthost both
blackholed (they accept connections and never answer), revoking a device still ends its
IMAP session and refuses its password at once. Dropping cached credentials and ending
sessions touch neither; only the rate-limit counters do, and they fall back to memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailward.settings import Settings
from tests.integration.test_mail_fixtures import MailWorld, populate, running_mail
from tests.security.test_revoke_blackhole import Blackhole, assert_revoked_promptly
from tests.support import World, free_port


@pytest.fixture
async def holes() -> AsyncIterator[tuple[int, int]]:
    smarthost, redis = Blackhole(), Blackhole()
    ports = free_port(), free_port()
    await smarthost.start(ports[0])
    await redis.start(ports[1])
    yield ports
    await smarthost.stop()
    await redis.stop()


@pytest.fixture
def settings(settings: Settings, holes: tuple[int, int]) -> Settings:
    return settings.model_copy(
        update={
            "smarthost": "127.0.0.1",
            "smarthost_port": holes[0],
            "smarthost_starttls": False,
            "redis_url": f"redis://127.0.0.1:{holes[1]}/0",
        }
    )


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    await populate(world)
    async with running_mail(world) as mail:
        yield mail


async def test_a_revoke_ends_the_session_at_once_with_redis_and_smarthost_blackholed(
    mail: MailWorld,
) -> None:
    from mailward.mail.outbox import send_security_notices

    send_security_notices(mail.services)
    await mail.add_device(mail.world.address, "laptop")
    revoke = mail.services.devices.revoke(mail.world.admin, mail.world.address, "laptop")
    await assert_revoked_promptly(mail, "laptop", revoke)
