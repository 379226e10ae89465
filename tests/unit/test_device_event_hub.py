"""The device event hub delivers each change once per subscriber, whichever way it
arrives first: published by the process that made it, or read by that process's own
change feed (the database signals the commit before the change is published here)."""

from __future__ import annotations

from collections import Counter

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


async def hub_with_every_kind_of_subscriber() -> tuple[DeviceEventHub, Heard]:
    hub, heard = DeviceEventHub(), Heard()
    hub.subscribe_revocation(heard.by("revocation"))
    hub.subscribe(heard.by("background"))
    hub.subscribe(heard.by("only here"), only_here=True)
    return hub, heard


async def test_a_change_made_here_and_read_back_by_the_feed_is_heard_once() -> None:
    hub, heard = await hub_with_every_kind_of_subscriber()
    await hub.device_changed(CHANGE)
    await hub.changed_elsewhere(CHANGE)
    await hub.close()
    assert heard.count == {"revocation": 1, "background": 1, "only here": 1}


async def test_a_change_the_feed_reads_before_it_is_published_here_is_still_told_here() -> None:
    hub, heard = await hub_with_every_kind_of_subscriber()
    await hub.changed_elsewhere(CHANGE)
    await hub.device_changed(CHANGE)
    await hub.close()
    assert heard.count == {"revocation": 1, "background": 1, "only here": 1}


async def test_a_change_made_elsewhere_is_not_told_here() -> None:
    hub, heard = await hub_with_every_kind_of_subscriber()
    await hub.changed_elsewhere(CHANGE)
    await hub.changed_elsewhere(CHANGE)
    await hub.close()
    assert heard.count == {"revocation": 1, "background": 1}
