"""A device's access options after creation: expiry, allowed protocols, allowed networks.
Outside them a login fails like a wrong password (the audit log says why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from mailward.core.devices.service import PROTOCOLS, DeviceOptions
from mailward.web.forms import done_or_refused, template_page
from mailward.web.paths import devices_path
from mailward.web.routes.devices import device_context, parse_expiry
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn

router = APIRouter()
ACTION = "change device options"


def _networks(text: str) -> tuple[str, ...]:
    return tuple(n for n in text.replace(",", "\n").split() if n)


@router.get("/addresses/{address_id}/devices/{device_id}/access")
async def access_form(
    request: Request, viewer: SignedIn, address_id: int, device_id: int
) -> Response:
    context, device = await device_context(request, viewer, address_id, device_id, ACTION)
    expires = device.expires_at.date().isoformat() if device.expires_at else ""
    form = {
        "expires": expires,
        "protocols": device.allowed_protocols,
        "networks": "\n".join(device.allowed_networks),
    }
    context.update(form=form, protocols=PROTOCOLS)
    return render(request, "device_access.html", context)


@router.post("/addresses/{address_id}/devices/{device_id}/access")
async def change_access(
    request: Request,
    viewer: SignedIn,
    address_id: int,
    device_id: int,
    expires: Annotated[str, Form()] = "",
    protocols: Annotated[list[str] | None, Form()] = None,
    networks: Annotated[str, Form()] = "",
) -> Response:
    context, _ = await device_context(request, viewer, address_id, device_id, ACTION)
    form = {"expires": expires, "protocols": protocols or [], "networks": networks}
    context.update(form=form, protocols=PROTOCOLS)

    async def save() -> None:
        options = DeviceOptions(parse_expiry(expires), tuple(protocols or ()), _networks(networks))
        await web_state(request).services.devices.set_options(
            viewer.actor, address_id, device_id, options
        )

    page = template_page(request, "device_access.html", context)
    return await done_or_refused(save(), page, f"{devices_path(address_id)}?done=access")
