"""Unit tier: the core use cases over fakes (tests/unit/fakes.py), no files or servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.fakes import Core, open_core, populate


@pytest.fixture
async def bare_core() -> AsyncIterator[Core]:
    """The core with an empty database."""
    async for core in open_core():
        yield core


@pytest.fixture
async def core(bare_core: Core) -> Core:
    """The core with one organization, its people, a Mail Service and an address."""
    return await populate(bare_core)
