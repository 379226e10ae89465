"""``/api/v1``: every route, each a call of one use case."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from mailward.web.api.problems import problem_responses
from mailward.web.api.routes import (
    audit,
    device_use,
    devices,
    invitations,
    mail,
    orgs,
    passkeys,
    tokens,
)


def operation_id(route: APIRoute) -> str:
    """The function's name: stable, readable ids for generated clients."""
    return route.name


router = APIRouter(
    responses=problem_responses(400, 401, 422, 429), generate_unique_id_function=operation_id
)
for _module in (orgs, mail, devices, device_use, invitations, audit, tokens, passkeys):
    router.include_router(_module.router)
