"""Devices of an address. A password appears only in the response that made it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from mailward.core.devices.service import PROTOCOLS, DeviceOptions
from mailward.core.pages import PageRequest
from mailward.web.api import schemas as s
from mailward.web.api.context import Api, ApiSecret
from mailward.web.api.paging import Cursor, Limit, link_pages
from mailward.web.api.problems import problem_responses

router = APIRouter(tags=["devices"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _options(body: s.DeviceIn) -> DeviceOptions:
    return DeviceOptions(
        expires_at=body.expires_at,
        protocols=tuple(body.protocols or PROTOCOLS),
        networks=tuple(body.networks or ()),
    )


@router.get("/addresses/{address_id}/devices", responses=problem_responses(404))
async def list_devices(
    address_id: ObjectId,
    api: Api,
    request: Request,
    response: Response,
    include_revoked: Annotated[bool, Query()] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> list[s.Device]:
    """The devices in the order they were added, a page at a time (the next one is in
    the ``Link`` header); managers see all, a ``user`` member only their own."""
    page = await api.services.devices.page(
        api.actor, address_id, None if include_revoked else False, PageRequest(cursor, limit)
    )
    link_pages(request, response, page)
    return [s.Device.model_validate(v) for v in page.items]


@router.post(
    "/addresses/{address_id}/devices",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404, 409, 422),
)
async def add_device(address_id: ObjectId, body: s.DeviceIn, api: ApiSecret) -> s.NewDevicePassword:
    """Add a device. The password is in this response only (``Cache-Control: no-store``)."""
    made = await api.services.devices.add(
        api.actor,
        address_id,
        body.name,
        user_email=body.user_email,
        password=body.password,
        options=_options(body),
    )
    return s.NewDevicePassword.model_validate(made)


@router.get("/addresses/{address_id}/devices/{device_id}", responses=problem_responses(404))
async def get_device(address_id: ObjectId, device_id: ObjectId, api: Api) -> s.Device:
    view = await api.services.devices.get(api.actor, address_id, device_id)
    return s.Device.model_validate(view)


@router.post(
    "/addresses/{address_id}/devices/{device_id}/password",
    responses=problem_responses(403, 404, 409, 422),
)
async def change_device_password(
    address_id: ObjectId,
    device_id: ObjectId,
    body: s.DevicePasswordIn,
    api: ApiSecret,
) -> s.NewDevicePassword:
    """Replace the password; the old one stops working at once and the device's open
    sessions end. The new one is in this response only."""
    made = await api.services.devices.change_password(
        api.actor, address_id, device_id, password=body.password
    )
    return s.NewDevicePassword.model_validate(made)


@router.delete(
    "/addresses/{address_id}/devices/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(403, 404),
)
async def revoke_device(address_id: ObjectId, device_id: ObjectId, api: Api) -> None:
    """Revoke the device (idempotent); every other device keeps working."""
    await api.services.devices.revoke(api.actor, address_id, device_id)


@router.put(
    "/addresses/{address_id}/devices/{device_id}/access",
    responses=problem_responses(403, 404, 409, 422),
)
async def set_device_access(
    address_id: ObjectId, device_id: ObjectId, body: s.DeviceAccessIn, api: Api
) -> s.Device:
    """Expiry, allowed protocols and networks. A login outside them fails like a wrong
    password; the device's open sessions end."""
    options = DeviceOptions(
        expires_at=body.expires_at,
        protocols=tuple(body.protocols or PROTOCOLS),
        networks=tuple(body.networks or ()),
    )
    view = await api.services.devices.set_options(api.actor, address_id, device_id, options)
    return s.Device.model_validate(view)
