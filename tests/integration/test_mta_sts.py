"""The web listener serves the MTA-STS policy on mta-sts.DOMAIN of verified Mail Services
only, and the _mta-sts record's id follows the policy."""

from __future__ import annotations

import httpx

from mailward.core.mailservices.dns_records import mta_sts_id
from mailward.web.app import create_app
from tests.support import World


async def get_policy(world: World, host: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(world.services))
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        return await client.get("/.well-known/mta-sts.txt", headers={"Host": host})


async def test_the_policy_is_served_on_mta_sts_of_a_verified_domain(world: World) -> None:
    response = await get_policy(world, "mta-sts.example.test")
    assert response.status_code == 200
    assert response.text.splitlines() == [
        "version: STSv1",
        "mode: testing",
        "mx: localhost",
        "max_age: 604800",
    ]


async def test_other_hosts_and_pending_domains_get_no_policy(world: World) -> None:
    await world.services.mail_services.create(world.admin, world.org_id, "pending.test")
    for host in ("mta-sts.pending.test", "mta-sts.nowhere.test", "example.test", "mta-sts.!!"):
        assert (await get_policy(world, host)).status_code == 404


def test_the_policy_id_changes_with_the_policy(world: World) -> None:
    settings = world.services.settings
    enforcing = settings.model_copy(update={"mta_sts_mode": "enforce"})
    assert mta_sts_id(settings) != mta_sts_id(enforcing)
