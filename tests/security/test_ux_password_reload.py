"""A reload of the page that showed a new device password sends its form again. Before,
that answered 400 "already exists" with the just-created password filled in again under
"never shown again" (and a reload after a password change set it again and showed it).
Now the form carries a one-time id: sent again, it leads to the device list, which never
shows the password; the first answer still shows it, once, not cached."""

from __future__ import annotations

from datetime import timedelta

import httpx

from mailward.clock import FrozenClock
from tests.support import World
from tests.web_support import SignedInClient, form_of, signed_in_admin_at


async def send_twice(admin: SignedInClient, page: str) -> tuple[httpx.Response, ...]:
    fields = await admin.form(page, name="Front desk", user="", action="finish")
    first = await admin.client.post(page, data=fields)
    again = await admin.client.post(page, data=fields)  # the browser's reload
    return first, again, fields  # type: ignore[return-value]


async def test_a_reload_after_adding_a_device_shows_the_list_not_the_password(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    first, again, fields = await send_twice(admin, f"/addresses/{aid}/devices/new")
    assert first.status_code == 200 and fields["password"] in first.text
    assert "no-store" in first.headers["cache-control"]
    assert again.status_code == 303
    assert again.headers["location"] == f"/addresses/{aid}/devices?done=shown"
    listed = await admin.get(again.headers["location"])
    assert "Front desk" in listed.text and fields["password"] not in listed.text
    devices = await world.services.devices.list(world.admin, aid)
    assert [d.name for d in devices] == ["Front desk"]


async def test_a_reload_after_a_password_change_changes_nothing(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    await send_twice(admin, f"/addresses/{aid}/devices/new")
    device = (await world.services.devices.list(world.admin, aid))[0]
    page = f"/addresses/{aid}/devices/{device.id}/password"
    fields = form_of((await admin.get(page)).text)
    fields["action"] = "save"
    first = await admin.client.post(page, data=fields)
    changed = (await world.services.devices.list(world.admin, aid))[0].password_changed_at
    clock.advance(timedelta(minutes=1))
    again = await admin.client.post(page, data=fields)
    assert first.status_code == 200 and fields["password"] in first.text
    assert again.status_code == 303 and fields["password"] not in again.text
    after = (await world.services.devices.list(world.admin, aid))[0]
    assert after.password_changed_at == changed


async def test_a_garbage_or_missing_submission_id_is_an_ordinary_form(
    world: World, clock: FrozenClock
) -> None:
    admin, aid = await signed_in_admin_at(world, clock)
    page = f"/addresses/{aid}/devices/new"
    for submission in ("", "\x00" * 3, "é" * 5000):
        fields = form_of((await admin.get(page)).text)
        fields.update(name=f"Device {len(submission)}", action="finish", submission=submission)
        response = await admin.client.post(page, data=fields)
        assert response.status_code == 200, (submission[:5], response.headers.get("location"))
