"""A device's login history and an organization's device policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mailward.core.devices.history import HISTORY_LIMIT, LoginView
from mailward.core.organizations.policy import MAX_DAYS, DevicePolicy, PolicyChange
from mailward.web.api.context import Api
from mailward.web.api.problems import problem_responses
from mailward.web.api.schemas import View, fields_of

router = APIRouter(tags=["device use"])
ObjectId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class DeviceLogin(View):
    """Logins with the same IP, protocol and result within a few seconds are one entry
    (``count``). ``result``: ``ok``, or ``wrong`` (the device's right password refused
    for its scope; a wrong password names no device and is in no history)."""

    __annotations__ = fields_of(LoginView)


class DevicePolicyOut(View):
    """``unused_notice_days`` and ``unused_revoke_days`` are null when unused devices
    never expire."""

    __annotations__ = fields_of(DevicePolicy)


class DevicePolicyIn(BaseModel):
    """Omitted fields keep their value; ``unused_expiry: false`` switches expiry off."""

    unused_expiry: bool | None = None
    unused_notice_days: Days | None = None
    unused_revoke_days: Days | None = None
    login_history_days: Days | None = None


@router.get("/addresses/{address_id}/devices/{device_id}/logins", responses=problem_responses(404))
async def list_device_logins(
    address_id: ObjectId,
    device_id: ObjectId,
    api: Api,
    limit: Annotated[int, Query(ge=1, le=1000)] = HISTORY_LIMIT,
) -> list[DeviceLogin]:
    """The device's last logins, newest first."""
    logins = await api.services.device_history.history(api.actor, address_id, device_id, limit)
    return [DeviceLogin.model_validate(v) for v in logins]


@router.get("/organizations/{org_id}/device-policy", responses=problem_responses(404))
async def get_device_policy(org_id: ObjectId, api: Api) -> DevicePolicyOut:
    policy = await api.services.policies.get(api.actor, str(org_id))
    return DevicePolicyOut.model_validate(policy)


@router.patch("/organizations/{org_id}/device-policy", responses=problem_responses(403, 404, 422))
async def change_device_policy(org_id: ObjectId, body: DevicePolicyIn, api: Api) -> DevicePolicyOut:
    """Change the policy (administrators and legal representatives)."""
    change = PolicyChange(
        body.unused_notice_days,
        body.unused_revoke_days,
        body.login_history_days,
        off=body.unused_expiry is False,
    )
    policy = await api.services.policies.set(api.actor, str(org_id), change)
    return DevicePolicyOut.model_validate(policy)
