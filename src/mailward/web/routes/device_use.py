"""A device's use in the manager: its login history, the "keep it" link of an unused
device, and the "revoke this device" link of a new-network notice (sign-in and the
password again first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from mailward.errors import InvalidInput
from mailward.web.clientip import client_ip
from mailward.web.formatting import sentence
from mailward.web.routes.addresses import address_context
from mailward.web.routes.devices import revoke_form
from mailward.web.state import render, web_state
from mailward.web.viewer import SignedIn, Viewer, reauthenticated

router = APIRouter()

REVOKE_FROM_NOTICE = "/addresses/{address_id}/devices/{device_id}/revoke-confirm"
FromNotice = Annotated[Viewer, reauthenticated(REVOKE_FROM_NOTICE)]


@router.get("/addresses/{address_id}/devices/{device_id}/history")
async def device_history(
    request: Request, viewer: SignedIn, address_id: int, device_id: int
) -> Response:
    """For whoever sees the device: managers, and a user for their own devices."""
    context = await address_context(request, viewer, address_id)
    services = web_state(request).services
    context["device"] = await services.devices.get(viewer.actor, address_id, device_id)
    context["tab"] = "devices"
    context["logins"] = await services.device_history.history(viewer.actor, address_id, device_id)
    context["policy"] = await services.policies.get(viewer.actor, str(context["organization"].id))
    return render(request, "device_history.html", context)


@router.get(REVOKE_FROM_NOTICE)
async def revoke_from_notice(
    request: Request, viewer: FromNotice, address_id: int, device_id: int
) -> Response:
    """The link of a new-network notice: the usual revocation page, after the password."""
    return await revoke_form(request, viewer, address_id, device_id)


@router.get("/devices/keep/{keep_token}")
async def keep_form(request: Request, keep_token: str) -> Response:
    """One button, no sign-in: a link fetched by a mail scanner keeps nothing."""
    return render(request, "device_keep.html", {"keep_token": keep_token, "kept": None})


@router.post("/devices/keep/{keep_token}")
async def keep(request: Request, keep_token: str) -> Response:
    unused = web_state(request).services.unused_devices()
    try:
        kept = await unused.keep(keep_token, client_ip(request))
    except InvalidInput as exc:
        context = {"keep_token": keep_token, "kept": None, "error": sentence(exc)}
        return render(request, "device_keep.html", context, 400)
    return render(request, "device_keep.html", {"keep_token": "", "kept": kept})
