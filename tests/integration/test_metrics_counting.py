"""What the login path and the device events count, read from the process's registry
(the Prometheus test reads the same numbers through a real Prometheus)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from mailward.auth.authenticator import Authenticator
from mailward.bootstrap import Services
from mailward.ops.node import NodeOps
from tests.integration.auth_devices import add_generated
from tests.support import World, wait_until

ATTACKER = "203.0.113.67"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_rate_limited_logins_are_counted_as_limited_and_by_limit(
    auth: Authenticator, world: World
) -> None:
    await add_generated(world, "Phone")
    limit = auth.limiter.limits.address_ip
    limited = sample("mailward_logins_total", protocol="pop3", result="limited")
    refusals = sample("mailward_rate_limit_refusals_total", limit=limit.name)
    for i in range(limit.failures + 2):
        await auth.authenticate(world.address, f"guess-{i}", "pop3", ATTACKER)
    assert sample("mailward_logins_total", protocol="pop3", result="limited") == limited + 2
    assert sample("mailward_rate_limit_refusals_total", limit=limit.name) == refusals + 2


async def test_a_revoked_device_is_counted_with_its_propagation_lag(
    services: Services, world: World
) -> None:
    ops = NodeOps(services)
    ops.start()
    try:
        revokes = sample("mailward_device_changes_total", kind="revoke")
        lags = sample("mailward_device_change_lag_seconds_count")
        device, _ = await add_generated(world, "Old phone")
        await services.devices.revoke(world.admin, world.address, device)

        def counted() -> bool:
            return sample("mailward_device_changes_total", kind="revoke") == revokes + 1

        await wait_until(counted, what="the revocation counted")
        assert sample("mailward_device_change_lag_seconds_count") > lags
        text = "".join(m.name for m in REGISTRY.collect())
        assert "mailward_spool_messages" in text and "mailward_live_sessions" in text
    finally:
        ops.stop()
