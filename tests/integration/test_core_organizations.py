import pytest

from mailward.core.access.actors import Actor
from mailward.errors import AlreadyExists
from tests.support import ADMIN_PASSWORD, World


async def test_duplicates_are_refused(world: World) -> None:
    services, op = world.services, Actor.operator()
    with pytest.raises(AlreadyExists):
        await services.organizations.create(op, "Corp", None)
    with pytest.raises(AlreadyExists):
        await services.organizations.add_member(op, world.org_id, "user@corp.test", "user")
    with pytest.raises(AlreadyExists):
        await services.accounts.create(op, "ADMIN@corp.test", ADMIN_PASSWORD)
    # An unknown person gets an invited account and the role (the operator is trusted):
    # nobody learns whether an account existed.
    ghost = await services.organizations.add_member(op, world.org_id, "ghost@corp.test", "user")
    assert (ghost.email, ghost.state) == ("ghost@corp.test", "accepted")
