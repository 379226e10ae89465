"""The device event hub delivers each change once per subscriber, whichever way it
arrives first: published by the process that made it, or read by that process's own
change feed (the database signals the commit before the change is published here)."""

from __future__ import annotations

from collections import Counter

import pytest

from mailward.core.deps import DeviceChangeNotice
from mailward.core.devices.changes import DeviceEventHub, Subscriber

CHANGE = DeviceChangeNotice(device_id=1, address_id=1, kind="add", change_id=41)


class Heard:
    def __init__(self) -> None:
        self.count: Counter[str] = Counter()

    def by(self, name: str) -> Subscriber:
        async def subscriber(notice: DeviceChangeNotice) -> None:
            self.count[name] += 1

        return subscriber


ALL = {"revocation": 1, "background": 1, "only here": 1}


@pytest.mark.parametrize(
    ("ways", "heard_once"),
    [
        pytest.param(("here", "feed"), ALL, id="made-here-then-read-back-by-the-feed"),
        pytest.param(("feed", "here"), ALL, id="read-by-the-feed-before-published-here"),
        pytest.param(("feed", "feed"), {"revocation": 1, "background": 1}, id="made-elsewhere"),
    ],
)
async def test_each_subscriber_hears_a_change_once_and_only_here_ones_a_change_made_here(
    ways: tuple[str, str], heard_once: dict[str, int]
) -> None:
    hub, heard = DeviceEventHub(), Heard()
    hub.subscribe_revocation(heard.by("revocation"))
    hub.subscribe(heard.by("background"))
    hub.subscribe(heard.by("only here"), only_here=True)
    for way in ways:
        await (hub.device_changed if way == "here" else hub.changed_elsewhere)(CHANGE)
    await hub.close()
    assert heard.count == heard_once
