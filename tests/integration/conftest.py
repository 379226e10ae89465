"""Fixtures of the integration tier shared by several files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mailward.clock import FrozenClock
from tests.integration.api_world import ApiWorld, make_api_world
from tests.integration.mail_world import MailWorld, running_mail
from tests.integration.running_server import RunningServer, run_server
from tests.support import World


@pytest.fixture
async def api(world: World, clock: FrozenClock) -> AsyncIterator[ApiWorld]:
    """The API app over the world, with a token for every kind of caller."""
    async for api_world in make_api_world(world, clock):
        yield api_world


@pytest.fixture
async def mail(world: World) -> AsyncIterator[MailWorld]:
    """The embedded mail server with two devices of info@example.test: laptop, phone."""
    async with running_mail(world, devices=("laptop", "phone")) as mail:
        yield mail


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real ``mailward serve`` process for the module."""
    yield from run_server(tmp_path_factory)
